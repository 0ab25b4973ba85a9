/** @module cli/render — the admin API's answers as text for people; `--json` prints the answers themselves. */
import type { AuditEntry, KeyRecord, Tenant } from "../tenants/types.ts";
import type { BanView, CountedElsewhere, ListView, NewKeyBody, UsageBody } from "./api.ts";
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
 * A rate as the policy writes it: `5/s`, `1000/day`, `100/s burst 200`.
 *
 * @example
 * rate(100, 1000, 200); // → "100/s burst 200"
 */
export function rate(count: number, periodMs: number, burst = count): string {
  const units: Array<[number, string]> = [
    [86_400_000, "day"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
    [1, "ms"],
  ];
  const [size, name] = units.find(([u]) => periodMs % u === 0) ?? [1, "ms"];
  const n = periodMs / size;
  return `${count}/${n === 1 ? "" : n}${name}${burst !== count ? ` burst ${burst}` : ""}`;
}

/**
 * Each limit's remaining units out of its capacity (the burst, so never "200
 * of 100"), its rate, and when it is full again. Sluice's own counters come
 * last, labelled with what they count. With no limit, says what does count
 * the subject's requests and which subject to ask about.
 *
 * @example
 * usageTable("tenant:acme", limits); // "RULE  LIMIT      RATE  REMAINING  FULL AGAIN\napi   tenant-1m  2/min  1 of 2     in 42 s"
 */
export function usageTable(subject: string, body: Pick<UsageBody, "limits" | "elsewhere">): string {
  if (body.limits.length === 0) return nothingCounts(subject, body.elsewhere ?? []);
  const ordered = [...body.limits].sort((a, b) => Number(!!a.internal) - Number(!!b.internal));
  return table(
    ["RULE", "LIMIT", "RATE", "REMAINING", "FULL AGAIN"],
    ordered.map((l) => {
      const capacity = l.burst ?? l.count;
      return [
        l.internal ? `(${l.internal})` : l.rule,
        l.limit,
        rate(l.count, l.periodMs, capacity),
        `${Math.min(l.remaining, capacity)} of ${capacity}`,
        l.resetMs === 0 ? "now" : `in ${duration(l.resetMs)}`,
      ];
    }),
  );
}

/** Where a subject with no limits of its own is counted instead. */
function nothingCounts(subject: string, elsewhere: readonly CountedElsewhere[]): string {
  const head = `no limit counts by ${subject}`;
  if (elsewhere.length === 0) return `${head}; the policy has no other limits either`;
  const ask: Record<string, string> = { ip: "ip:<address>", apiKey: "key:<key id>" };
  const rows = elsewhere.map((e) => {
    const target = e.subject ?? ask[e.by];
    const rules = `${e.rules.length === 1 ? "rule" : "rules"} ${e.rules.join(", ")}`;
    const by = `  ${e.by === "apiKey" ? "key" : e.by}`;
    return target ? [by, rules, `sluice usage ${target}`] : [by, rules];
  });
  return `${head}; the same requests are counted by:\n${table(["", "", ""], rows).split("\n").slice(1).join("\n")}`;
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
