/** @module tenants/plan — a tenant's rates right now: its plan's, with live overrides applied. */
import { parseRate } from "../policy/rate.ts";
import type { PlanRate, Policy } from "../policy/types.ts";
import { BoundedMap } from "../util/bounded-map.ts";
import type { Override, Tenant } from "./types.ts";

/** Parsed override texts: a live override is parsed once per isolate, not per request. */
const parsedOverrides = new BoundedMap<string, ReturnType<typeof parseOverrideRate>>(1000);

/**
 * The tenant's plan rates in force at `nowMs`, or undefined when the policy no
 * longer offers its plan.
 *
 * @example
 * const rates = planRatesOf(policy, tenant, Date.now()); // [{ id: "1s", count: 5, … }, …]
 */
export function planRatesOf(policy: Policy, tenant: Tenant, nowMs: number): PlanRate[] | undefined {
  const plan = Object.hasOwn(policy.plans, tenant.plan) ? policy.plans[tenant.plan] : undefined;
  return plan && effectiveRates(plan, tenant.overrides, nowMs);
}

/**
 * The plan's rates with each unexpired override in place of the rate it names.
 * Overrides that name no rate of the plan, or change its period, are ignored.
 *
 * @example
 * effectiveRates([{ id: "1d", count: 1000, periodMs: 86_400_000, burst: 1000 }],
 *   [{ limit: "1d", rate: "5000/day", reason: "launch", createdAt: "…" }], Date.now());
 * // → [{ id: "1d", count: 5000, periodMs: 86400000, burst: 5000 }]
 */
export function effectiveRates(
  plan: readonly PlanRate[],
  overrides: readonly Override[],
  nowMs: number,
): PlanRate[] {
  return plan.map((rate) => {
    const o = overrides.find((x) => x.limit === rate.id && isLive(x, nowMs));
    const parsed = o ? parsedOverride(o.rate) : undefined;
    // An override keeps its rate's period (the admin API insists); one that
    // does not, stored before that rule, is ignored rather than mislabelled.
    return parsed && parsed.periodMs === rate.periodMs ? { id: rate.id, ...parsed } : rate;
  });
}

function parsedOverride(text: string) {
  if (!parsedOverrides.has(text)) parsedOverrides.set(text, parseOverrideRate(text));
  return parsedOverrides.get(text);
}

/** Unexpired at `nowMs`. */
export function isLive(o: Override, nowMs: number): boolean {
  return o.expiresAt === undefined || Date.parse(o.expiresAt) > nowMs;
}

/**
 * One rate (count, period, burst) or undefined when `text` is not exactly one rate.
 *
 * @example
 * parseOverrideRate("100/s burst 200"); // → { count: 100, periodMs: 1000, burst: 200 }
 */
export function parseOverrideRate(
  text: string,
): { count: number; periodMs: number; burst: number } | undefined {
  const parsed = parseRate(text);
  if (!parsed.ok || parsed.rates.length !== 1) return undefined;
  const r = parsed.rates[0] as { count: number; periodMs: number; burst?: number };
  return { count: r.count, periodMs: r.periodMs, burst: r.burst ?? r.count };
}
