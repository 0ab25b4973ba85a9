/** @module admin — the admin API under /__sluice/admin/: tenants, keys, overrides, usage, reset, audit. */
import { Hono } from "hono";
import { clientIp, ipKey } from "../identity/ip.ts";
import { type LimitStore, StoreError } from "../limiter/types.ts";
import { buildChecks, type Subjects } from "../limiter/checks.ts";
import { planRateProblem } from "../policy/limits.ts";
import { TENANT_ID } from "../policy/tenants.ts";
import type { Limit, Policy } from "../policy/types.ts";
import { keyAttemptsLocked, toResponse, unauthorized } from "../respond/problem.ts";
import { type Directory, DirectoryConflict } from "../tenants/directory.ts";
import { ADMIN_AUTH_RULE, AuthFailureGuard } from "../tenants/guard.ts";
import { mintKey } from "../tenants/api-keys.ts";
import { parseOverrideRate } from "../tenants/plan.ts";
import type { KeyResolver } from "../tenants/resolver.ts";
import type { AuditEntry, KeyRecord, Tenant } from "../tenants/types.ts";
import { adminTokenMatches } from "./auth.ts";
import {
  type Json,
  object,
  optionalBoolean,
  optionalFutureTime,
  optionalString,
  parseSubject,
  requiredString,
  type SubjectRef,
} from "./input.ts";
import { badRequest, conflict, missing, unavailable } from "./problems.ts";

export const ADMIN_BASE = "/__sluice/admin";

/** Shortest admin token accepted: 32 characters (≥ 192 bits as base64). */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** Wrong admin tokens admitted per address before it is locked out. */
const ADMIN_AUTH_FAILURES = { count: 10, periodMs: 60_000, burst: 10 };

export interface AdminDeps {
  token: string;
  policy: Policy;
  directory: Directory;
  /** Dropped entries make changes visible in this isolate at once. */
  resolver: KeyResolver | undefined;
  /** The hot path's failed-key guard: resetting an address lifts its lockout here at once. */
  keyGuard?: AuthFailureGuard | undefined;
  store: LimitStore;
  clock: () => number;
  /** Where audit entries are logged (besides being stored). */
  log?: (entry: AuditEntry) => void;
}

const ACTOR = /^[\x21-\x7e][\x20-\x7e]{0,63}$/;
const KEY_ID = /^[0-9a-f]{16}$/;

/**
 * The admin API as a Hono app with base path `/__sluice/admin`. Every route
 * needs the bearer token; every change is stored with an audit entry in the
 * same atomic write and logged as a `sluice.audit` line.
 *
 * @example
 * const admin = createAdmin({ token, policy, directory, resolver, store, clock: Date.now });
 * return admin.fetch(c.req.raw);
 */
export function createAdmin(deps: AdminDeps): Hono {
  const { policy, directory, store, clock } = deps;
  const log =
    deps.log ?? ((entry) => console.log(JSON.stringify({ msg: "sluice.audit", ...entry })));
  const app = new Hono().basePath(ADMIN_BASE);

  // Token guessing is slow and seen: wrong tokens count per address in the
  // limit store, and each one is logged (not stored: a guesser must not be
  // able to flood the audit trail).
  const guard = new AuthFailureGuard(store, policy.prefix, ADMIN_AUTH_FAILURES, ADMIN_AUTH_RULE);
  app.use(async (c, next) => {
    if (await adminTokenMatches(c.req.header("authorization"), deps.token)) {
      await next();
      c.header("cache-control", "no-store");
      return;
    }
    const entry = audit(c, "auth.failed", "admin", { method: c.req.method, path: c.req.path });
    const nowMs = clock();
    const address = ipKey(entry.ip, policy.identity.ip.ipv6Subnet) ?? "";
    // Once locked out, an address is answered from memory: no store call, no log line.
    const locked = guard.lockedForMs(address, nowMs);
    if (locked > 0) return keyAttemptsLocked(locked, "admin tokens", ADMIN_AUTH_RULE);
    // Without the token the caller's own name for itself means nothing.
    log({ ...entry, actor: "unauthenticated" });
    const lockout = await guard.fail(address, nowMs);
    if (lockout > 0) return keyAttemptsLocked(lockout, "admin tokens", ADMIN_AUTH_RULE);
    return unauthorized("A valid admin token is required.", "sluice-admin");
  });

  function audit(c: { req: { raw: Request } }, action: string, target: string, details: Json) {
    const actor = c.req.raw.headers.get("sluice-actor")?.trim() ?? "";
    return {
      at: new Date(clock()).toISOString(),
      actor: ACTOR.test(actor) ? actor : "admin",
      ip: clientIp(c.req.raw.headers, policy.identity.ip) ?? "",
      action,
      target,
      details,
    } satisfies AuditEntry;
  }
  const commit = async (entry: AuditEntry, write: () => Promise<void>) => {
    await write();
    log(entry);
  };
  const body = async (req: Request): Promise<unknown> => {
    try {
      return await req.json();
    } catch {
      throw badRequest("", "expected a JSON body");
    }
  };
  const tenantOr404 = async (id: string) => {
    const tenant = await directory.getTenant(id);
    if (!tenant) throw missing(`Tenant ${JSON.stringify(id)}`);
    return tenant;
  };
  const checkPlan = (plan: string, field = "plan") => {
    if (!Object.hasOwn(policy.plans, plan)) {
      const offered = Object.keys(policy.plans);
      throw badRequest(
        field,
        `unknown plan ${JSON.stringify(plan)}; the policy offers ${offered.length ? offered.join(", ") : "no plans"}`,
      );
    }
  };

  app.get("/tenants", async (c) => c.json({ tenants: await directory.listTenants() }));

  app.post("/tenants", async (c) => {
    const input = object(await body(c.req.raw), ["id", "plan", "name"]);
    const id = requiredString(input, "id", 64);
    if (!TENANT_ID.test(id)) {
      throw badRequest("id", 'expected 1–64 of lower-case letters, digits, "_" or "-"');
    }
    const plan = requiredString(input, "plan", 64);
    checkPlan(plan);
    const name = optionalString(input, "name", 200);
    if (await directory.getTenant(id)) throw conflict(`Tenant ${JSON.stringify(id)} exists.`);
    const tenant: Tenant = {
      id,
      ...(name ? { name } : {}),
      plan,
      disabled: false,
      createdAt: new Date(clock()).toISOString(),
      overrides: [],
    };
    const entry = audit(c, "tenant.create", `tenant:${id}`, { plan, ...(name ? { name } : {}) });
    await commit(entry, () => directory.saveTenant(tenant, entry));
    return c.json({ tenant }, 201);
  });

  app.get("/tenants/:id", async (c) => c.json({ tenant: await tenantOr404(c.req.param("id")) }));

  app.patch("/tenants/:id", async (c) => {
    const input = object(await body(c.req.raw), ["plan", "name", "disabled"]);
    const tenant = await tenantOr404(c.req.param("id"));
    const plan = optionalString(input, "plan", 64);
    if (plan !== undefined) checkPlan(plan);
    const name = optionalString(input, "name", 200);
    const disabled = optionalBoolean(input, "disabled");
    const changes: Json = {};
    if (plan !== undefined && plan !== tenant.plan) changes.plan = { from: tenant.plan, to: plan };
    if (name !== undefined && name !== tenant.name) changes.name = { from: tenant.name, to: name };
    if (disabled !== undefined && disabled !== tenant.disabled) changes.disabled = disabled;
    // Overrides were granted against the old plan's rates: a new plan starts clean.
    const planChanged = changes.plan !== undefined;
    if (planChanged && tenant.overrides.length > 0) {
      changes.overridesDropped = tenant.overrides.map((o) => o.limit);
    }
    const updated: Tenant = {
      ...tenant,
      ...(plan !== undefined ? { plan } : {}),
      ...(planChanged ? { overrides: [] } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(disabled !== undefined ? { disabled } : {}),
    };
    const entry = audit(c, "tenant.update", `tenant:${tenant.id}`, changes);
    await commit(entry, () => directory.saveTenant(updated, entry, tenant));
    deps.resolver?.forget({ tenant: tenant.id });
    return c.json({ tenant: updated });
  });

  app.put("/tenants/:id/overrides/:limit", async (c) => {
    const input = object(await body(c.req.raw), ["rate", "reason", "expiresAt"]);
    const tenant = await tenantOr404(c.req.param("id"));
    const limit = c.req.param("limit");
    const planRates = policy.plans[tenant.plan] ?? [];
    if (!planRates.some((r) => r.id === limit)) {
      throw badRequest(
        "limit",
        `plan ${JSON.stringify(tenant.plan)} has no rate ${JSON.stringify(limit)}; its rates are ${planRates.map((r) => r.id).join(", ") || "none"}`,
      );
    }
    const rate = requiredString(input, "rate", 100);
    const parsed = parseOverrideRate(rate);
    if (!parsed) throw badRequest("rate", 'expected exactly one rate like "200000/day"');
    const planRate = planRates.find((r) => r.id === limit);
    if (planRate && parsed.periodMs !== planRate.periodMs) {
      // The check's id names the period; a different one would mislabel every header and log.
      throw badRequest(
        "rate",
        `an override of ${JSON.stringify(limit)} keeps its period; expected a rate per ${limit}, like "${planRate.count * 2}/${limit}"`,
      );
    }
    for (const l of planLimits(policy)) {
      const problem = planRateProblem(l, parsed);
      if (problem) {
        throw badRequest(
          "rate",
          `for ${l.algorithm} limit ${JSON.stringify(l.id)}: ${problem.message}`,
        );
      }
    }
    const reason = requiredString(input, "reason", 500);
    const expiresAt = optionalFutureTime(input, "expiresAt", clock());
    const override = {
      limit,
      rate,
      reason,
      ...(expiresAt ? { expiresAt } : {}),
      createdAt: new Date(clock()).toISOString(),
    };
    const updated: Tenant = {
      ...tenant,
      overrides: [...tenant.overrides.filter((o) => o.limit !== limit), override],
    };
    const entry = audit(c, "tenant.override.set", `tenant:${tenant.id}`, { ...override });
    await commit(entry, () => directory.saveTenant(updated, entry, tenant));
    deps.resolver?.forget({ tenant: tenant.id });
    return c.json({ tenant: updated });
  });

  app.delete("/tenants/:id/overrides/:limit", async (c) => {
    const tenant = await tenantOr404(c.req.param("id"));
    const limit = c.req.param("limit");
    if (!tenant.overrides.some((o) => o.limit === limit)) {
      throw missing(`Override ${JSON.stringify(limit)} of tenant ${JSON.stringify(tenant.id)}`);
    }
    const updated: Tenant = {
      ...tenant,
      overrides: tenant.overrides.filter((o) => o.limit !== limit),
    };
    const entry = audit(c, "tenant.override.remove", `tenant:${tenant.id}`, { limit });
    await commit(entry, () => directory.saveTenant(updated, entry, tenant));
    deps.resolver?.forget({ tenant: tenant.id });
    return c.json({ tenant: updated });
  });

  app.post("/keys", async (c) => {
    const input = object(await body(c.req.raw), ["tenant", "name", "expiresAt"]);
    const tenant = await tenantOr404(requiredString(input, "tenant", 64));
    const name = optionalString(input, "name", 200);
    const expiresAt = optionalFutureTime(input, "expiresAt", clock());
    const minted = await mintKey(policy.tenants?.keyPrefix ?? "sk_live_");
    const key: KeyRecord = {
      id: minted.id,
      tenant: tenant.id,
      prefix: minted.prefix,
      ...(name ? { name } : {}),
      createdAt: new Date(clock()).toISOString(),
      ...(expiresAt ? { expiresAt } : {}),
      disabled: false,
    };
    const entry = audit(c, "key.create", `key:${key.id}`, {
      tenant: tenant.id,
      prefix: key.prefix,
      ...(expiresAt ? { expiresAt } : {}),
    });
    await commit(entry, () => directory.saveKey(minted.hash, key, entry));
    deps.resolver?.forget({ hash: minted.hash });
    return c.json({ key, secret: minted.secret }, 201);
  });

  app.get("/keys", async (c) => {
    const tenant = c.req.query("tenant");
    if (tenant !== undefined) await tenantOr404(tenant);
    return c.json({ keys: await directory.listKeys(tenant) });
  });

  app.post("/keys/:id/revoke", async (c) => {
    const id = c.req.param("id");
    const found = KEY_ID.test(id) ? await directory.getKeyById(id) : undefined;
    if (!found) throw missing(`Key ${JSON.stringify(id)}`);
    const key: KeyRecord = found.key.disabled
      ? found.key
      : { ...found.key, disabled: true, revokedAt: new Date(clock()).toISOString() };
    const entry = audit(c, "key.revoke", `key:${id}`, { tenant: key.tenant });
    await commit(entry, () => directory.saveKey(found.hash, key, entry, found.key));
    deps.resolver?.forget({ hash: found.hash });
    return c.json({ key });
  });

  app.get("/usage", async (c) => {
    const subject = parseSubject(c.req.query("subject"));
    const nowMs = clock();
    const limits = [];
    for (const target of await targets(subject)) {
      const decision = await store.peek({
        rule: target.rule,
        checks: target.checks,
        nowMs,
        countRejected: false,
      });
      for (const l of decision.limits) {
        limits.push({
          rule: target.rule,
          limit: l.id,
          count: l.count,
          periodMs: l.periodMs,
          remaining: l.remaining,
          resetMs: l.resetMs,
        });
      }
    }
    return c.json({ subject: c.req.query("subject"), limits });
  });

  app.post("/reset", async (c) => {
    const input = object(await body(c.req.raw), ["subject"]);
    const subject = parseSubject(input.subject);
    let cleared = 0;
    const found = await targets(subject);
    for (const target of found) {
      await store.reset(
        target.rule,
        target.checks.map((k) => k.key),
      );
      cleared += target.checks.length;
    }
    if (subject.kind === "ip") {
      const address = ipKey(subject.address, policy.identity.ip.ipv6Subnet) ?? "";
      deps.keyGuard?.clear(address);
      guard.clear(address);
    }
    const entry = audit(c, "subject.reset", String(input.subject), { keys: cleared });
    await commit(entry, () => directory.recordAudit(entry));
    return c.json({ subject: input.subject, cleared });
  });

  app.get("/audit", async (c) => {
    const raw = c.req.query("limit") ?? "100";
    const n = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(n >= 1 && n <= 10_000)) throw badRequest("limit", "expected an integer from 1 to 10000");
    return c.json({ entries: await directory.audit(n) });
  });

  app.all("*", () => {
    throw missing("This admin resource");
  });

  app.onError((err) => {
    if (err instanceof DirectoryConflict) {
      return toResponse(
        conflict("The resource changed by another request meanwhile; read it again and retry."),
      );
    }
    if (err instanceof StoreError)
      return toResponse(unavailable(`The store did not answer: ${err.reason}.`));
    return toResponse(err);
  });

  /** Each rule's checks for the limits that count by this subject. */
  async function targets(subject: SubjectRef) {
    const nowMs = clock();
    let who: Subjects;
    let counts: (l: Limit) => boolean;
    const extra: Array<{ rule: string; checks: Awaited<ReturnType<typeof buildChecks>> }> = [];
    if (subject.kind === "ip") {
      const key = ipKey(subject.address, policy.identity.ip.ipv6Subnet) ?? "";
      who = { ipKey: key, header: () => undefined };
      counts = (l) => l.by.kind === "ip";
      // Failed key and admin-token attempts are counted per address too.
      for (const g of [deps.keyGuard, guard]) {
        if (g) extra.push({ rule: g.rule, checks: [g.check(key)] });
      }
    } else if (subject.kind === "tenant") {
      const tenant = await tenantOr404(subject.id);
      who = { ipKey: "", tenant, header: () => undefined };
      counts = (l) => l.by.kind === "tenant";
    } else {
      const found = await directory.getKeyById(subject.id);
      if (!found) throw missing(`Key ${JSON.stringify(subject.id)}`);
      const tenant = await directory.getTenant(found.key.tenant);
      who = {
        ipKey: "",
        apiKeyHash: found.hash,
        ...(tenant ? { tenant } : {}),
        header: () => undefined,
      };
      counts = (l) => l.by.kind === "apiKey" && (!l.fromPlan || tenant !== undefined);
    }
    const out = extra.filter((t) => t.checks.length > 0);
    for (const rule of policy.rules) {
      if (!rule.limits.some(counts)) continue;
      if (
        who.tenant &&
        !Object.hasOwn(policy.plans, who.tenant.plan) &&
        rule.limits.some((l) => l.fromPlan && counts(l))
      )
        continue;
      out.push({ rule: rule.name, checks: await buildChecks(policy, rule, who, nowMs, counts) });
    }
    return out;
  }

  return app;
}

/** Every limit whose rates come from plans (their costs bound override bursts). */
function planLimits(policy: Policy): Limit[] {
  return policy.rules.flatMap((r) => r.limits.filter((l) => l.fromPlan));
}
