/** @module admin/routes/subjects — one subject's usage and reset across rules, and the audit trail. */
import { type Context, Hono } from "hono";
import { ipKey } from "../../identity/ip.ts";
import { banOf, buildChecks, type Requester } from "../../limiter/checks.ts";
import type { LimitCheck } from "../../limiter/types.ts";
import { applicationRule } from "../../policy/protect.ts";
import type { Limit } from "../../policy/types.ts";
import { badRequest, missing } from "../../respond/problem.ts";
import { planRatesOf } from "../../tenants/plan.ts";
import { type AdminEnv, auditEntry, commit, jsonBody, tenantOr404 } from "../context.ts";
import { object, parseSubject, type SubjectRef } from "../input.ts";

/** `/usage`, `/reset` and `/audit` under the admin base. */
export const subjectRoutes = new Hono<AdminEnv>();

subjectRoutes.get("/usage", async (c) => {
  const { store, clock } = c.var.admin;
  const subject = parseSubject(c.req.query("subject"));
  const nowMs = clock();
  const limits = [];
  for (const target of await targets(c, subject)) {
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

subjectRoutes.post("/reset", async (c) => {
  const { store, directory, policy, keyGuard, tokenGuard } = c.var.admin;
  const input = object(await jsonBody(c), ["subject"]);
  const subject = parseSubject(input.subject);
  let cleared = 0;
  for (const target of await targets(c, subject)) {
    const keys = target.checks.map((k) => k.key);
    // A reset forgives a ban on the subject too.
    await store.reset(target.rule, target.banKey ? [...keys, target.banKey] : keys);
    cleared += target.checks.length;
  }
  if (subject.kind === "ip") {
    const address = ipKey(subject.address, policy.identity.ip.ipv6Subnet) ?? "";
    keyGuard?.clear(address);
    tokenGuard.clear(address);
  }
  const entry = auditEntry(c, "subject.reset", String(input.subject), { keys: cleared });
  await commit(c, entry, () => directory.recordAudit(entry));
  return c.json({ subject: input.subject, cleared });
});

subjectRoutes.get("/audit", async (c) => {
  const raw = c.req.query("limit") ?? "100";
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= 10_000)) throw badRequest("limit", "expected an integer from 1 to 10000");
  return c.json({ entries: await c.var.admin.directory.audit(n) });
});

interface Target {
  rule: string;
  checks: LimitCheck[];
  /** The rule's ban on this subject, when it bans by it. */
  banKey?: string;
}

/**
 * Each rule's checks for the limits that count by this subject; for an
 * address, also its failed key and admin-token attempts.
 *
 * @throws {SluiceHttpError} 404 for an unknown tenant or key.
 */
async function targets(c: Context<AdminEnv>, subject: SubjectRef): Promise<Target[]> {
  const { policy, directory, keyGuard, tokenGuard, clock } = c.var.admin;
  const nowMs = clock();
  let who: Requester;
  let counts: (l: Limit) => boolean;
  const out: Target[] = [];
  if (subject.kind === "ip") {
    const key = ipKey(subject.address, policy.identity.ip.ipv6Subnet) ?? "";
    who = { ipKey: key, header: () => undefined };
    counts = (l) => l.by.kind === "ip";
    for (const g of [keyGuard, tokenGuard]) {
      if (g) out.push({ rule: g.rule, checks: [g.check(key)] });
    }
  } else if (subject.kind === "tenant") {
    const tenant = await tenantOr404(c, subject.id);
    const planRates = planRatesOf(policy, tenant, nowMs);
    who = {
      ipKey: "",
      tenantId: tenant.id,
      ...(planRates ? { planRates } : {}),
      header: () => undefined,
    };
    counts = (l) => l.by.kind === "tenant" && (!l.fromPlan || planRates !== undefined);
  } else {
    const found = await directory.getKeyById(subject.id);
    if (!found) throw missing(`Key ${JSON.stringify(subject.id)}`);
    const tenant = await directory.getTenant(found.key.tenant);
    const planRates = tenant && planRatesOf(policy, tenant, nowMs);
    who = {
      ipKey: "",
      apiKeyHash: found.hash,
      ...(tenant ? { tenantId: tenant.id } : {}),
      ...(planRates ? { planRates } : {}),
      header: () => undefined,
    };
    counts = (l) => l.by.kind === "apiKey" && (!l.fromPlan || planRates !== undefined);
  }
  // Application-wide limits count too, under the rule "*".
  for (const rule of [...policy.rules, applicationRule(policy.limits)]) {
    if (!rule.limits.some(counts)) continue;
    const checks = await buildChecks(policy, rule, who, counts);
    const first = rule.limits[0];
    const ban = first && counts(first) ? banOf(policy, rule, checks) : undefined;
    out.push({ rule: rule.name, checks, ...(ban ? { banKey: ban.key } : {}) });
  }
  return out;
}
