/** @module limiter/checks — a rule and who is asking → the store checks for one decision. */

import { takesBurst } from "../policy/fit.ts";
import { APP_RULE } from "../policy/protect.ts";
import type { Limit, PlanRate, Policy, Rule } from "../policy/types.ts";
import { sha256Hex } from "../util/encoding.ts";
import { floorCount } from "./adaptive.ts";
import { BAN_KEY_PART } from "./ban.ts";
import { keySubject, storeKey } from "./store-key.ts";
import type { BanSpec, LimitCheck } from "./types.ts";

/** Who is asking, as far as store keys go. */
export interface Requester {
  ipKey: string;
  apiKeyHash?: string;
  /** The key's tenant, once resolved. */
  tenantId?: string;
  /** The tenant's plan rates in force now (overrides applied), for `rate: "plan"` limits. */
  planRates?: readonly PlanRate[];
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
 * One check per limit, a `rate: "plan"` limit expanding to one per rate in
 * `who.planRates`. `only` keeps some limits (the admin API reads one
 * subject's). Callers resolve the tenant's plan first: a plan limit without
 * plan rates is a programming error and throws.
 *
 * @example
 * const checks = await buildChecks(policy, rule, { ipKey: "203.0.113.7", header: () => undefined });
 */
export async function buildChecks(
  policy: Policy,
  rule: Rule,
  who: Requester,
  only: (limit: Limit) => boolean = () => true,
): Promise<LimitCheck[]> {
  const checks: LimitCheck[] = [];
  for (const limit of rule.limits) {
    if (!only(limit)) continue;
    const owner = ownerOf(rule, limit);
    const key = (id: string, subject: string) =>
      storeKey(policy.prefix, owner, id + STATE_TAG[limit.algorithm], subject);
    const subject = await subjectOf(limit, who);
    const minPpm = floorPpm(policy, rule, limit);
    const floor = (count: number) =>
      minPpm === undefined ? {} : { floorCount: floorCount({ count, cost: limit.cost }, minPpm) };
    if (!limit.fromPlan) {
      checks.push({
        id: limit.id,
        key: key(limit.id, subject),
        algorithm: limit.algorithm,
        count: limit.count,
        periodMs: limit.periodMs,
        burst: limit.burst,
        cost: limit.cost,
        ...floor(limit.count),
      });
      continue;
    }
    if (!who.planRates) throw new Error(`limit ${limit.id} of rule ${rule.name} needs plan rates`);
    for (const rate of who.planRates) {
      const id = `${limit.id}-${rate.id}`;
      checks.push({
        id,
        key: key(id, subject),
        algorithm: limit.algorithm,
        count: rate.count,
        periodMs: rate.periodMs,
        // Only buckets take a burst. A cost above an override's burst could
        // never pass; the admin API refuses such overrides.
        burst: takesBurst(limit.algorithm) ? Math.max(rate.burst, limit.cost) : rate.count,
        cost: limit.cost,
        ...floor(rate.count),
      });
    }
  }
  return checks;
}

/**
 * The smallest share an adaptive controller may scale this limit to, if any
 * may: its rule's for the rule's own limits; for a shared or application-wide
 * limit, which other rules' requests carry too, the smallest of them all.
 */
function floorPpm(policy: Policy, rule: Rule, limit: Limit): number | undefined {
  if (limit.shared === null && rule.name !== APP_RULE) return rule.adaptive?.minPpm;
  if (!LEAST_MIN_PPM.has(policy)) {
    const mins = policy.rules.flatMap((r) => (r.adaptive ? [r.adaptive.minPpm] : []));
    LEAST_MIN_PPM.set(policy, mins.length > 0 ? Math.min(...mins) : undefined);
  }
  return LEAST_MIN_PPM.get(policy);
}

/** Each policy's smallest controller `min`, worked out once (policies are frozen once loaded). */
const LEAST_MIN_PPM = new WeakMap<Policy, number | undefined>();

/**
 * The rule's ban for this request: its state lives at
 * `<prefix>:<rule>:~ban:<subject>`, the subject being the one the rule's first
 * limit counts by (`checks[0]`, built by `buildChecks`). Undefined without a ban.
 *
 * @example
 * banOf(policy, rule, await buildChecks(policy, rule, who)); // { key: "sluice:login:~ban:ip:203.0.113.7", after: 3, … }
 */
export function banOf(
  policy: Policy,
  rule: Rule,
  checks: readonly LimitCheck[],
): BanSpec | undefined {
  const first = checks[0];
  if (!rule.ban || !first) return undefined;
  const { after, withinMs, forMs, escalate, maxMs } = rule.ban;
  const key = storeKey(policy.prefix, rule.name, BAN_PART, keySubject(first.key));
  return { key, after, withinMs, forMs, escalate, maxMs };
}

/**
 * The keys a lifted ban clears: the ban's own, and the rule's limits on the
 * banned subject (those counting by what its first limit counts by; a plan
 * limit's under every plan's rates), so the subject starts afresh.
 *
 * @example
 * banSubjectKeys(policy, login, "ip:203.0.113.7");
 * // ["sluice:login:~ban:ip:203.0.113.7", "sluice:login:ip-1m:ip:203.0.113.7"]
 */
export function banSubjectKeys(policy: Policy, rule: Rule, subject: string): string[] {
  const first = rule.limits[0];
  if (!first) return [];
  const sameSubject = (l: Limit) =>
    l.by.kind === first.by.kind &&
    (l.by.kind !== "header" || first.by.kind !== "header" || l.by.name === first.by.name);
  const planIds = [
    ...new Set(Object.values(policy.plans).flatMap((rates) => rates.map((r) => r.id))),
  ];
  const keys = [storeKey(policy.prefix, rule.name, BAN_PART, subject)];
  for (const limit of rule.limits.filter(sameSubject)) {
    const owner = ownerOf(rule, limit);
    const ids = limit.fromPlan ? planIds.map((id) => `${limit.id}-${id}`) : [limit.id];
    for (const id of ids) {
      keys.push(storeKey(policy.prefix, owner, id + STATE_TAG[limit.algorithm], subject));
    }
  }
  return keys;
}

/** The limit-id field of ban keys: `~ban`. */
const BAN_PART = BAN_KEY_PART.slice(1, -1);

/** Where a limit's keys go in place of the rule name: a shared bucket belongs to no rule (`~` starts no rule name). */
function ownerOf(rule: Rule, limit: Limit): string {
  return limit.shared === null ? rule.name : `~${limit.shared}`;
}

/** Does this limit need a resolved API key? */
export function needsKey(limit: Limit): boolean {
  return limit.by.kind === "apiKey" || limit.by.kind === "tenant" || limit.fromPlan;
}

/**
 * The subject part of a store key. A missing IP or header value is never a
 * reason to skip a limit: such requests share one bucket instead.
 *
 * @example
 * await subjectOf({ by: { kind: "ip" } }, { ipKey: "203.0.113.7", header: () => undefined }); // "ip:203.0.113.7"
 */
export async function subjectOf(limit: Pick<Limit, "by">, who: Requester): Promise<string> {
  switch (limit.by.kind) {
    case "ip":
      return `ip:${who.ipKey || "unknown"}`;
    case "apiKey":
      return `key:${who.apiKeyHash}`;
    case "tenant":
      return `tenant:${who.tenantId}`;
    case "global":
      return "global";
    case "header": {
      const value = who.header(limit.by.name);
      // Hashed: header values can be long, arbitrary or secret.
      return value ? `hdr:${await sha256Hex(value)}` : "hdr:-";
    }
  }
}
