/** @module limiter/algorithms/gcra — reference model of the generic cell rate algorithm. */
import {
  type AlgorithmModel,
  decodeState,
  type Refund,
  type Step,
  type StepLimit,
} from "./step.ts";

/**
 * GCRA keeps one number per key, the theoretical arrival time (TAT) in µs.
 * A request of cost c is admitted when `max(TAT, now) + c·T − now ≤ burst·T`,
 * where T = period / count (the emission interval, rounded up to a whole µs so
 * all arithmetic stays in exact integers — at most 1 µs slower per unit).
 *
 * State: `"<tatUs>:<seenMs>"`. `seenMs` is the latest caller time seen for the
 * key, so time never runs backwards per key.
 *
 * Mirrored line for line by the Lua script in `scripts.ts`; the property tests
 * hold the two to the same decisions.
 *
 * @example
 * gcraStep(null, 0, { count: 5, periodMs: 60_000, burst: 5, cost: 1 }).allowed // true
 */
export function gcraStep(raw: string | null | undefined, nowMs: number, limit: StepLimit): Step {
  const state = decodeState(raw, 2);
  const seenMs = state ? Math.max(nowMs, state[1] as number) : nowMs;
  const now = seenMs * 1000;
  const interval = Math.ceil((limit.periodMs * 1000) / limit.count);
  const capacity = limit.burst * interval;
  const increment = limit.cost * interval;
  const tat = state ? Math.max(state[0] as number, now) : now;
  const newTat = tat + increment;
  const waitUs = (t: number) => Math.max(0, t + increment - capacity - now);
  const remaining = Math.max(0, Math.floor((capacity - (tat - now)) / interval));
  const retryMs = Math.ceil(waitUs(tat) / 1000);
  const allowed = newTat - now <= capacity;
  return {
    allowed,
    remaining,
    resetMs: allowed ? Math.ceil((tat - now) / 1000) : retryMs,
    retryMs,
    consumed: {
      remaining: Math.max(0, Math.floor((capacity - (newTat - now)) / interval)),
      resetMs: Math.ceil((newTat - now) / 1000),
      retryMs: Math.ceil(waitUs(newTat) / 1000),
      value: `${newTat}:${seenMs}`,
      ttlMs: Math.max(1, Math.ceil((newTat - now) / 1000)),
    },
  };
}

/**
 * Moves the TAT back by `cost` emission intervals, never before now: the
 * bucket can refill to full, not beyond.
 */
export function gcraRefund(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
): Refund | undefined {
  const state = decodeState(raw, 2);
  if (!state) return undefined;
  const seenMs = Math.max(nowMs, state[1] as number);
  const now = seenMs * 1000;
  const interval = Math.ceil((limit.periodMs * 1000) / limit.count);
  const tat = Math.max(now, (state[0] as number) - limit.cost * interval);
  return { value: `${tat}:${seenMs}`, ttlMs: Math.max(1, Math.ceil((tat - now) / 1000)) };
}

export const gcra: AlgorithmModel = { step: gcraStep, refund: gcraRefund };
