/** @module limiter/model — the pure reference engine: all limits of a rule, all-or-nothing. */
import type { Algorithm } from "../policy/types.ts";
import { fixedWindow } from "./algorithms/fixed-window.ts";
import { gcra } from "./algorithms/gcra.ts";
import { slidingLog } from "./algorithms/sliding-log.ts";
import { slidingWindow } from "./algorithms/sliding-window.ts";
import type { AlgorithmModel, Step } from "./algorithms/step.ts";
import { tokenBucket } from "./algorithms/token-bucket.ts";
import type { Decision, LimitCheck, LimitState } from "./types.ts";

/** Every algorithm's reference model, by policy name. */
export const ALGORITHMS: Record<Algorithm, AlgorithmModel> = {
  gcra,
  "token-bucket": tokenBucket,
  "fixed-window": fixedWindow,
  "sliding-window": slidingWindow,
  "sliding-log": slidingLog,
};

/** A state write the caller must apply (same index as `checks`). */
export interface Write {
  key: string;
  value: string;
  ttlMs: number;
}

/**
 * Evaluates every check against its current state, then commits all or none:
 * a request denied by one limit consumes nothing from the others, unless
 * `countRejected` asks that denied requests count too. With `peek` nothing
 * is committed: the decision describes the current state.
 *
 * The Durable Object and memory stores run this directly; the Redis script mirrors it.
 *
 * @example
 * const { decision, writes } = evaluate(checks, [null, null], Date.now(), false);
 */
export function evaluate(
  checks: readonly LimitCheck[],
  states: ReadonlyArray<string | null | undefined>,
  nowMs: number,
  countRejected: boolean,
  peek = false,
  maxDelayMs = 0,
): { decision: Decision; writes: Write[] } {
  const steps = stepAll(checks, states, nowMs);
  if (!peek && maxDelayMs > 0) {
    const delayed = reserveAll(checks, steps, states, nowMs, maxDelayMs);
    if (delayed) return delayed;
  }
  const { decision, commit } = combine(checks, steps, countRejected, peek);
  const writes: Write[] = commit
    ? steps.map((r, i) => ({
        key: (checks[i] as LimitCheck).key,
        value: r.consumed.value,
        ttlMs: r.consumed.ttlMs,
      }))
    : [];
  return { decision, writes };
}

/**
 * A denied request that every limit would admit within `maxDelayMs`: each
 * limit reserves its cost for the latest of their waits, and the request is
 * admitted with that delay. Undefined when it is admitted now, or cannot wait.
 */
export function reserveAll(
  checks: readonly LimitCheck[],
  steps: readonly Step[],
  states: ReadonlyArray<string | null | undefined>,
  nowMs: number,
  maxDelayMs: number,
): { decision: Decision; writes: Write[] } | undefined {
  if (steps.every((s) => s.allowed)) return undefined;
  const waitMs = Math.max(...steps.map((s) => s.retryMs));
  if (waitMs > maxDelayMs) return undefined;
  const reserved = checks.map((c, i) => {
    const reserve = ALGORITHMS[c.algorithm].reserve;
    return reserve ? reserve(states[i], nowMs, c, waitMs) : undefined;
  });
  if (reserved.some((r) => r === undefined)) return undefined;
  const done = reserved as Step["consumed"][];
  return {
    decision: {
      allowed: true,
      retryAfterMs: 0,
      delayMs: waitMs,
      limits: done.map((r, i) => {
        const { id, count, periodMs, burst, cost, algorithm } = checks[i] as LimitCheck;
        return {
          ...{ id, count, periodMs, burst, cost, algorithm },
          allowed: true,
          remaining: r.remaining,
          resetMs: r.resetMs,
        };
      }),
    },
    writes: done.map((r, i) => ({
      key: (checks[i] as LimitCheck).key,
      value: r.value,
      ttlMs: r.ttlMs,
    })),
  };
}

/**
 * Each check's step on its own state, before the rule decides to commit.
 *
 * @example
 * const steps = stepAll(checks, [null], Date.now());
 */
export function stepAll(
  checks: readonly LimitCheck[],
  states: ReadonlyArray<string | null | undefined>,
  nowMs: number,
): Step[] {
  return checks.map((check, i) => ALGORITHMS[check.algorithm].step(states[i], nowMs, check));
}

/** What a step says of the request, without the state to store (it travels between stores). */
export type StepView = Omit<Step, "consumed"> & {
  consumed: Omit<Step["consumed"], "value" | "ttlMs">;
};

/**
 * The rule's decision from its limits' steps: allowed only if every limit
 * admits; committed if allowed (or `countRejected`) and not a peek. A store
 * that holds a rule's limits in several places steps each part where it
 * lives and combines them here, exactly as one place would.
 *
 * @example
 * const { decision, commit } = combine(checks, stepAll(checks, states, now), false, false);
 */
export function combine(
  checks: readonly LimitCheck[],
  steps: readonly StepView[],
  countRejected: boolean,
  peek: boolean,
): { decision: Decision; commit: boolean } {
  const allowed = steps.every((r) => r.allowed);
  const commit = !peek && (allowed || countRejected);
  let retryAfterMs = 0;
  const limits: LimitState[] = steps.map((r, i) => {
    const check = checks[i] as LimitCheck;
    if (!allowed) retryAfterMs = Math.max(retryAfterMs, commit ? r.consumed.retryMs : r.retryMs);
    return {
      ...stated(check),
      allowed: r.allowed,
      remaining: commit ? r.consumed.remaining : r.remaining,
      resetMs: commit ? (r.allowed ? r.consumed.resetMs : r.consumed.retryMs) : r.resetMs,
    };
  });
  return { decision: { allowed, retryAfterMs, limits }, commit };
}

/**
 * A check's limit as a decision states it (the RateLimit fields need each
 * of these); the decision adds what is left and when.
 *
 * @example
 * stated(check); // { id: "ip-1m", count: 10, periodMs: 60000, burst: 10, cost: 1, algorithm: "gcra" }
 */
export function stated(check: LimitCheck): Omit<LimitState, "remaining" | "resetMs" | "allowed"> {
  const { id, count, periodMs, burst, cost, algorithm } = check;
  return { id, count, periodMs, burst, cost, algorithm };
}

/** The writes that give each check's cost back; keys with nothing to give back are left alone. */
export function refundWrites(
  checks: readonly LimitCheck[],
  states: ReadonlyArray<string | null | undefined>,
  nowMs: number,
): Write[] {
  const writes: Write[] = [];
  checks.forEach((check, i) => {
    const r = ALGORITHMS[check.algorithm].refund(states[i], nowMs, check);
    if (r) writes.push({ key: check.key, value: r.value, ttlMs: r.ttlMs });
  });
  return writes;
}
