/** @module cli/render — the admin API's answers as text for people; `--json` prints the answers themselves. */
import type { AuditEntry, KeyRecord, Tenant } from "../tenants/types.ts";
import type { BanView, ListView, NewKeyBody, UsageLimit } from "./api.ts";
import { duration, table } from "./format.ts";

/**
 * One row per tenant.
 *
 * @example
 * tenantTable([{ id: "acme", plan: "pro", disabled: false, createdAt: "…", overrides: [] }]);
 */
export function tenantTable(tenants: readonly Tenant[]): string {
  return table(
    ["TENANT", "PLAN", "STATUS", "OVERRIDES", "NAME", "CREATED"],
    tenants.map((t) => [
      t.id,
      t.plan,
      t.disabled ? "disabled" : "active",
      t.overrides.map((o) => `${o.limit}=${o.rate}`).join(","),
      t.name,
      t.createdAt,
    ]),
  );
}

/**
 * A tenant's row, then its overrides with their reasons and expiries.
 *
 * @example
 * tenantDetail(tenant); // "TENANT  PLAN …\nacme  pro …\noverrides:\n  1d = 5000/day  (launch, until …)"
 */
export function tenantDetail(tenant: Tenant): string {
  const overrides = tenant.overrides.map(
    (o) => `  ${o.limit} = ${o.rate}  (${o.reason}${o.expiresAt ? `, until ${o.expiresAt}` : ""})`,
  );
  return [tenantTable([tenant]), ...(overrides.length ? ["overrides:", ...overrides] : [])].join(
    "\n",
  );
}

/**
 * One row per key: its id and prefix, never a secret.
 *
 * @example
 * keyTable(keys); // "KEY ID            PREFIX        TENANT  STATUS …"
 */
export function keyTable(keys: readonly KeyRecord[]): string {
  return table(
    ["KEY ID", "PREFIX", "TENANT", "STATUS", "EXPIRES", "NAME", "CREATED"],
    keys.map((k) => [
      k.id,
      `${k.prefix}…`,
      k.tenant,
      k.disabled ? "revoked" : "active",
      k.expiresAt,
      k.name,
      k.createdAt,
    ]),
  );
}

/**
 * A new key and its secret, with the warning that it is shown once.
 *
 * @example
 * newKey({ key, secret: "sk_live_…" });
 */
export function newKey({ key, secret }: NewKeyBody): string {
  return [
    `key ${key.id} for tenant ${key.tenant}${key.expiresAt ? `, expires ${key.expiresAt}` : ""}`,
    "",
    `  ${secret}`,
    "",
    "This secret is shown once and is not stored; keep it now.",
  ].join("\n");
}

/**
 * Each limit's remaining count and when it is full again.
 *
 * @example
 * usageTable("tenant:acme", limits); // "RULE  LIMIT      REMAINING  OF  PERIOD  FULL AGAIN\napi   tenant-1m  1          2   60 s    in 42 s"
 */
export function usageTable(subject: string, limits: readonly UsageLimit[]): string {
  if (limits.length === 0) return `no limit counts by ${subject}`;
  return table(
    ["RULE", "LIMIT", "REMAINING", "OF", "PERIOD", "FULL AGAIN"],
    limits.map((l) => [
      l.rule,
      l.limit,
      l.remaining,
      l.count,
      duration(l.periodMs),
      l.resetMs === 0 ? "now" : `in ${duration(l.resetMs)}`,
    ]),
  );
}

/**
 * Audit entries, newest first as the API sends them.
 *
 * @example
 * auditTable(entries); // "AT  ACTOR  ACTION  TARGET  DETAILS\n…"
 */
export function auditTable(entries: readonly AuditEntry[]): string {
  return table(
    ["AT", "ACTOR", "ACTION", "TARGET", "DETAILS"],
    entries.map((e) => [e.at, e.actor, e.action, e.target, JSON.stringify(e.details)]),
  );
}

/**
 * One row per list: its action and how many entries it has, from the policy and at runtime.
 *
 * @example
 * listsTable(lists); // "LIST     ACTION  POLICY  RUNTIME\nblocked  deny    2       1"
 */
export function listsTable(lists: readonly ListView[]): string {
  if (lists.length === 0) return "the policy declares no lists";
  return table(
    ["LIST", "ACTION", "POLICY", "RUNTIME"],
    lists.map((l) => [
      l.name,
      l.action ?? "exempt only",
      l.policy.ips.length + l.policy.tenants.length + l.policy.countries.length,
      l.entries.length,
    ]),
  );
}

/**
 * A list's entries: the policy's, then the runtime ones with who added them, why and until when.
 *
 * @example
 * listDetail(list); // "KIND  VALUE  FROM  REASON  BY  EXPIRES\nip  198.51.100.0/24  policy  -  -  -"
 */
export function listDetail(list: ListView): string {
  const fromPolicy = [
    ...list.policy.ips.map((v) => ["ip", v]),
    ...list.policy.tenants.map((v) => ["tenant", v]),
    ...list.policy.countries.map((v) => ["country", v]),
  ].map(([kind, value]) => [kind, value, "policy"]);
  const runtime = list.entries.map((e) => [
    e.kind,
    e.value,
    "admin",
    e.reason,
    e.actor,
    e.expiresAt,
  ]);
  const head = `list ${list.name} (${list.action ?? "exempt only"})`;
  if (fromPolicy.length + runtime.length === 0) return `${head}: no entries`;
  return `${head}\n${table(["KIND", "VALUE", "FROM", "REASON", "BY", "EXPIRES"], [...fromPolicy, ...runtime])}`;
}

/**
 * One row per ban in force.
 *
 * @example
 * banTable(bans); // "RULE   SUBJECT         LEVEL  UNTIL  LEFT\nlogin  ip:203.0.113.7  2  …  20 min"
 */
export function banTable(bans: readonly BanView[]): string {
  if (bans.length === 0) return "no bans in force";
  return table(
    ["RULE", "SUBJECT", "LEVEL", "UNTIL", "LEFT"],
    bans.map((b) => [b.rule, b.subject, b.level, b.until, duration(b.retryAfter * 1000)]),
  );
}
