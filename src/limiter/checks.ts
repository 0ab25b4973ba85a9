/** @module limiter/checks — a rule and who is asking → the store checks for one decision. */
import { sha256Hex } from "../util/encoding.ts";
import { storeKey } from "./store-key.ts";
import type { LimitCheck } from "./types.ts";
import type { Limit, Policy, Rule } from "../policy/types.ts";
import { effectiveRates } from "../tenants/plan.ts";
import type { Tenant } from "../tenants/types.ts";

const BUCKETS: readonly string[] = ["gcra", "token-bucket"];

/** Who a request is, as far as store keys go. */
export interface Subjects {
  ipKey: string;
  apiKeyHash?: string;
  tenant?: Tenant;
  /** A request header's value (for `by: "header:<name>"`). */
  header(name: string): string | undefined;
}

/**
 * Each algorithm keeps its own state shape: a limit whose algorithm changes
 * starts on a fresh key rather than misreading the old state. GCRA, the
 * default, keeps the bare id. `~` cannot appear in a limit id (RFC 8941
 * keys), so a tagged key never equals another limit's.
 */
const STATE_TAG: Record<Limit["algorithm"], string> = {
  gcra: "",
  "token-bucket": "~tb",
  "fixed-window": "~fw",
  "sliding-window": "~sw",
  "sliding-log": "~sl",
};

/**
 * One check per limit, a `rate: "plan"` limit expanding to one per rate of
 * the tenant's plan (overrides applied at `nowMs`). `only` keeps some limits
 * (the admin API reads one subject's). Throws `PlanUnknownError` when the
 * tenant's plan is not in the policy.
 *
 * @example
 * const checks = await buildChecks(policy, rule, { ipKey: "203.0.113.7", header: () => undefined }, Date.now());
 */
export async function buildChecks(
  policy: Policy,
  rule: Rule,
  who: Subjects,
  nowMs: number,
  only: (limit: Limit) => boolean = () => true,
): Promise<LimitCheck[]> {
  const checks: LimitCheck[] = [];
  for (const limit of rule.limits) {
    if (!only(limit)) continue;
    const key = (id: string, subject: string) =>
      storeKey(policy.prefix, rule.name, id + STATE_TAG[limit.algorithm], subject);
    const subject = await subjectOf(limit, who);
    if (!limit.fromPlan) {
      checks.push({
        id: limit.id,
        key: key(limit.id, subject),
        algorithm: limit.algorithm,
        count: limit.count,
        periodMs: limit.periodMs,
        burst: limit.burst,
        cost: limit.cost,
      });
      continue;
    }
    const tenant = who.tenant;
    const plan = tenant ? policy.plans[tenant.plan] : undefined;
    if (!tenant || !plan) throw new PlanUnknownError(tenant?.plan ?? "");
    for (const rate of effectiveRates(plan, tenant.overrides, nowMs)) {
      const id = `${limit.id}-${rate.id}`;
      checks.push({
        id,
        key: key(id, subject),
        algorithm: limit.algorithm,
        count: rate.count,
        periodMs: rate.periodMs,
        // Only buckets take a burst. A cost above an override's burst could
        // never pass; the admin API refuses such overrides.
        burst: BUCKETS.includes(limit.algorithm) ? Math.max(rate.burst, limit.cost) : rate.count,
        cost: limit.cost,
      });
    }
  }
  return checks;
}

/** The tenant is on a plan the policy does not (or no longer) define. */
export class PlanUnknownError extends Error {
  override readonly name = "PlanUnknownError";
  readonly plan: string;
  constructor(plan: string) {
    super(`plan ${JSON.stringify(plan)} is not in the policy`);
    this.plan = plan;
  }
}

/** Does this limit need a resolved API key? */
export function needsKey(limit: Limit): boolean {
  return limit.by.kind === "apiKey" || limit.by.kind === "tenant" || limit.fromPlan;
}

/**
 * The subject part of a store key. A missing IP or header value is never a
 * reason to skip a limit: such requests share one bucket instead.
 */
async function subjectOf(limit: Limit, who: Subjects): Promise<string> {
  switch (limit.by.kind) {
    case "ip":
      return `ip:${who.ipKey || "unknown"}`;
    case "apiKey":
      return `key:${who.apiKeyHash}`;
    case "tenant":
      return `tenant:${who.tenant?.id}`;
    case "global":
      return "global";
    case "header": {
      const value = who.header(limit.by.name);
      // Hashed: header values can be long, arbitrary or secret.
      return value ? `hdr:${await sha256Hex(value)}` : "hdr:-";
    }
  }
}
