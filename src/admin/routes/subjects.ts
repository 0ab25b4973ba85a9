/** @module admin/routes/subjects — one subject's usage and reset across rules, and the audit trail. */
import { type Context, Hono } from "hono";
import { ipKey } from "../../identity/ip.ts";
import { banOf, buildChecks, type Requester } from "../../limiter/checks.ts";
import type { LimitCheck } from "../../limiter/types.ts";
import { applicationRule } from "../../policy/protect.ts";
import type { Limit, Rule } from "../../policy/types.ts";
import { badRequest, missing } from "../../respond/problem.ts";
import { planRatesOf } from "../../tenants/plan.ts";
import { type AdminEnv, auditEntry, auditThen, jsonBody, tenantOr404 } from "../context.ts";
import { object, parseSubject, type SubjectRef } from "../input.ts";
import type { AuditBody, ResetBody, UsageBody, UsageLimit } from "../views.ts";

/** `/usage`, `/reset` and `/audit` under the admin base. */
export const subjectRoutes = new Hono<AdminEnv>();

subjectRoutes.get("/usage", async (c) => {
  const { store, clock } = c.var.admin;
  const subject = parseSubject(c.req.query("subject"));
  const nowMs = clock();
  const { targets, related } = await resolve(c, subject);
  const limits: UsageLimit[] = [];
  for (const target of targets) {
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
        // Remaining is out of the burst, not the count: "200 of 100" read as a bug.
        burst: l.burst,
        remaining: l.remaining,
        resetMs: l.resetMs,
        ...(target.internal ? { internal: target.internal } : {}),
      });
    }
  }
  const { policy } = c.var.admin;
  const rules = [...policy.rules, applicationRule(policy.limits)];
  const elsewhere = countedElsewhere(rules, subject, related);
  return c.json<UsageBody>({ subject: c.req.query("subject") ?? "", limits, elsewhere });
});

subjectRoutes.post("/reset", async (c) => {
  const { store, policy, keyGuard, tokenGuard } = c.var.admin;
  const input = object(await jsonBody(c), ["subject"]);
  const subject = parseSubject(input.subject);
  const found = (await resolve(c, subject)).targets;
  const cleared = found.reduce((n, t) => n + t.checks.length, 0);
  const entry = auditEntry(c, "subject.reset", String(input.subject), { keys: cleared });
  // A reset lifts lockouts: its entry is in the trail before anything is cleared.
  await auditThen(c, entry, async () => {
    for (const target of found) {
      const keys = target.checks.map((k) => k.key);
      // A reset forgives a ban on the subject too.
      await store.reset(target.rule, target.banKey ? [...keys, target.banKey] : keys);
    }
    if (subject.kind === "ip") {
      const address = ipKey(subject.address, policy.identity.ip.ipv6Subnet) ?? "";
      keyGuard?.clear(address);
      tokenGuard.clear(address);
    }
  });
  return c.json<ResetBody>({ subject: String(input.subject), cleared });
});

subjectRoutes.get("/audit", async (c) => {
  const raw = c.req.query("limit") ?? "100";
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= 10_000)) throw badRequest("limit", "expected an integer from 1 to 10000");
  return c.json<AuditBody>({ entries: await c.var.admin.directory.audit(n) });
});

interface Target {
  rule: string;
  checks: LimitCheck[];
  /** The rule's ban on this subject, when it bans by it. */
  banKey?: string;
  /** For Sluice's own counters (not policy rules): what they count. */
  internal?: string;
}

/** Subjects the same requests are counted as, when this one tells: its tenant, its address. */
type Related = Partial<Record<Limit["by"]["kind"], string>>;

/** The limit kind a subject is counted as. */
const KIND: Record<SubjectRef["kind"], Limit["by"]["kind"]> = {
  ip: "ip",
  tenant: "tenant",
  key: "apiKey",
};

/**
 * Each rule's checks for the limits that count by this subject; for an
 * address, also its failed key and admin-token attempts.
 *
 * @throws {SluiceHttpError} 404 for an unknown tenant or key.
 */
async function resolve(
  c: Context<AdminEnv>,
  subject: SubjectRef,
): Promise<{ targets: Target[]; related: Related }> {
  const { policy, directory, keyGuard, tokenGuard, clock } = c.var.admin;
  const nowMs = clock();
  let who: Requester;
  let counts: (l: Limit) => boolean;
  const out: Target[] = [];
  const related: Related = {};
  if (subject.kind === "ip") {
    const key = ipKey(subject.address, policy.identity.ip.ipv6Subnet) ?? "";
    who = { ipKey: key, header: () => undefined };
    counts = (l) => l.by.kind === "ip";
    if (keyGuard)
      out.push({ rule: keyGuard.rule, checks: [keyGuard.check(key)], internal: "failed API keys" });
    out.push({
      rule: tokenGuard.rule,
      checks: [tokenGuard.check(key)],
      internal: "failed admin tokens",
    });
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
    related.tenant = `tenant:${found.key.tenant}`;
  }
  // Application-wide limits count too, under the rule "*".
  for (const rule of [...policy.rules, applicationRule(policy.limits)]) {
    if (!rule.limits.some(counts)) continue;
    const checks = await buildChecks(policy, rule, who, counts);
    const first = rule.limits[0];
    const ban = first && counts(first) ? banOf(policy, rule, checks) : undefined;
    out.push({ rule: rule.name, checks, ...(ban ? { banKey: ban.key } : {}) });
  }
  return { targets: out, related };
}

/**
 * What else counts the same requests, by kind (`tenant`, `ip`, `header:x-user`,
 * `global`), with the rules that do and the subject to ask about when this one
 * tells it: `usage key:…` with no counters of its own says its tenant's do.
 */
function countedElsewhere(rules: readonly Rule[], subject: SubjectRef, related: Related) {
  const byKind = new Map<string, { by: string; rules: string[]; subject?: string }>();
  for (const rule of rules) {
    for (const l of rule.limits) {
      if (l.by.kind === KIND[subject.kind]) continue;
      const by = l.by.kind === "header" ? `header:${l.by.name}` : l.by.kind;
      const entry = byKind.get(by) ?? { by, rules: [] };
      if (!entry.rules.includes(rule.name)) entry.rules.push(rule.name);
      const known = related[l.by.kind];
      if (known) entry.subject = known;
      byKind.set(by, entry);
    }
  }
  return [...byKind.values()];
}
