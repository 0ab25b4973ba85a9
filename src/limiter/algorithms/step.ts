/** @module limiter/algorithms/step — the shape every reference algorithm returns. */

/** What one limit says about one request, before the rule decides to commit. */
export interface Step {
  /** This limit alone admits the request. */
  allowed: boolean;
  /** Nothing is written: units left, ms until full (or until admission when denied). */
  remaining: number;
  resetMs: number;
  /** ms until this limit admits the request's cost from the current state (0 if now). */
  retryMs: number;
  /** The request's cost is consumed. */
  consumed: {
    remaining: number;
    resetMs: number;
    /** ms until this limit admits the same cost again after consuming. */
    retryMs: number;
    /** Encoded state to store, and its lifetime: after it lapses the key means "idle". */
    value: string;
    ttlMs: number;
  };
}

/** State to write back after giving units back; `undefined` when there is nothing to give back. */
export interface Refund {
  value: string;
  ttlMs: number;
}

/** One algorithm's reference model: decide one limit, and give a cost back. */
export interface AlgorithmModel {
  step(raw: string | null | undefined, nowMs: number, limit: StepLimit): Step;
  refund(raw: string | null | undefined, nowMs: number, limit: StepLimit): Refund | undefined;
  /**
   * Reserves the request's cost for when it arrives `waitMs` from now (a
   * delayed request; `waitMs` is at least the step's `retryMs`), so later
   * requests queue behind it. Only the buckets can wait.
   */
  reserve?(
    raw: string | null | undefined,
    nowMs: number,
    limit: StepLimit,
    waitMs: number,
  ): Step["consumed"];
}

/** Parameters of one limit as the store sees them (all positive integers). */
export interface StepLimit {
  count: number;
  periodMs: number;
  burst: number;
  cost: number;
  /**
   * The smallest count an adaptive controller may scale this limit to (absent:
   * `count`). A token bucket's key lives as long as refilling at it takes, so
   * a later scale-down never finds the key lapsed while units are still owed.
   */
  floorCount?: number;
}

/** Parses `a:b[:c]` state strings; anything else reads as "no state" (a fresh subject). */
export function decodeState(raw: string | null | undefined, parts: number): number[] | undefined {
  if (raw == null) return undefined;
  const fields = raw.split(":");
  if (fields.length !== parts) return undefined;
  const nums = fields.map((f) => (/^\d+$/.test(f) ? Number(f) : Number.NaN));
  return nums.every(Number.isSafeInteger) ? nums : undefined;
}

/**
 * One algorithm's Lua side: local functions `step(raw, count, period, burst,
 * cost)` and `refund(…)` registered as `algos.<code>`; the decide script's
 * driver calls them by the one-letter `code` it receives per limit.
 */
export interface LuaAlgorithm {
  code: string;
  source: string;
}
