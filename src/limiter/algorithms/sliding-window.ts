/** @module limiter/algorithms/sliding-window — reference model of the two-counter sliding window approximation. */
import {
  type AlgorithmModel,
  decodeState,
  type Refund,
  type Step,
  type StepLimit,
} from "./step.ts";

/**
 * Counts in fixed windows aligned to multiples of `periodMs` (on the key's
 * clock) and estimates the last `periodMs` as the previous window's count,
 * weighted by how much of it the sliding window still covers, plus the
 * current window's count:
 *
 *   estimate = prev · (P − e) / P + cur      (e = ms elapsed in the current window)
 *
 * A request of cost c is admitted when estimate + c ≤ count, compared as
 * `prev · (P − e) ≤ (count − cur − c) · P` so everything stays an exact integer
 * (validation keeps count · P below 2^53). A counter never exceeds `count`:
 * denied requests that count (countRejected) fill it, no further.
 *
 * State: `"<window index>:<cur>:<prev>:<seenMs>"`.
 *
 * Mirrored line for line by the Lua script in `scripts.ts`.
 *
 * @example
 * slidingWindowStep(null, 0, { count: 10, periodMs: 1000, burst: 10, cost: 1 }).consumed.remaining // 9
 */
export function slidingWindowStep(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
): Step {
  const { count, periodMs: p, cost } = limit;
  const w = windowAt(raw, nowMs, limit);
  const need = count - w.cur - cost;
  const allowed = w.prev * (p - w.elapsed) <= need * p;
  const cur = Math.min(count, w.cur + cost);
  const retryMs = slidingWait(w.cur, w.prev, w.elapsed, limit);
  return {
    allowed,
    remaining: left(w.cur, w.prev, w.elapsed, count, p),
    resetMs: allowed ? untilEmpty(w.cur, w.prev, w.elapsed, p) : retryMs,
    retryMs,
    consumed: {
      remaining: left(cur, w.prev, w.elapsed, count, p),
      resetMs: untilEmpty(cur, w.prev, w.elapsed, p),
      retryMs: slidingWait(cur, w.prev, w.elapsed, limit),
      value: `${w.index}:${cur}:${w.prev}:${w.now}`,
      ttlMs: Math.max(1, untilEmpty(cur, w.prev, w.elapsed, p)),
    },
  };
}

/**
 * The counters at the key's time: rolled into the previous window, or
 * dropped, as windows pass; never above `count` (it may have been lowered).
 */
function windowAt(raw: string | null | undefined, nowMs: number, limit: StepLimit) {
  const { count, periodMs: p } = limit;
  const state = decodeState(raw, 4);
  const now = state ? Math.max(nowMs, state[3] as number) : nowMs;
  const index = Math.floor(now / p);
  let cur = 0;
  let prev = 0;
  if (state && state[0] === index) {
    cur = Math.min(count, state[1] as number);
    prev = Math.min(count, state[2] as number);
  } else if (state && state[0] === index - 1) {
    prev = Math.min(count, state[1] as number);
  }
  return { now, index, elapsed: now - index * p, cur, prev };
}

/** Units admissible now: count − cur − ⌈prev · (P − e) / P⌉, at least 0. */
function left(cur: number, prev: number, elapsed: number, count: number, p: number): number {
  return Math.max(0, count - cur - Math.ceil((prev * (p - elapsed)) / p));
}

/** ms until both windows stop counting: the current one weighs until the end of the next. */
function untilEmpty(cur: number, prev: number, elapsed: number, p: number): number {
  if (cur > 0) return 2 * p - elapsed;
  if (prev > 0) return p - elapsed;
  return 0;
}

/**
 * The smallest wait after which `cost` is admitted with no further requests.
 * Within the current window the previous count's weight falls until
 * prev · (P − e) ≤ need · P, i.e. e ≥ P − ⌊need · P / prev⌋; failing that, the
 * same test in the next window with the current count as its previous one.
 */
function slidingWait(cur: number, prev: number, elapsed: number, limit: StepLimit): number {
  const { count, periodMs: p, cost } = limit;
  const need = count - cur - cost;
  if (need >= 0) {
    const at = prev === 0 ? 0 : p - Math.floor((need * p) / prev);
    if (at < p) return Math.max(0, at - elapsed);
  }
  const next = cur === 0 ? 0 : Math.max(0, p - Math.floor(((count - cost) * p) / cur));
  return p - elapsed + next;
}

/** Takes `cost` off the current window's count, the rest off the previous one's (never below 0). */
export function slidingWindowRefund(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
): Refund | undefined {
  const w = windowAt(raw, nowMs, limit);
  if (w.cur === 0 && w.prev === 0) return undefined;
  const fromCur = Math.min(w.cur, limit.cost);
  const cur = w.cur - fromCur;
  const prev = Math.max(0, w.prev - (limit.cost - fromCur));
  return {
    value: `${w.index}:${cur}:${prev}:${w.now}`,
    ttlMs: Math.max(1, untilEmpty(cur, prev, w.elapsed, limit.periodMs)),
  };
}

export const slidingWindow: AlgorithmModel = {
  step: slidingWindowStep,
  refund: slidingWindowRefund,
};
