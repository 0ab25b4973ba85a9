/** @module limiter/algorithms/fixed-window — reference model of a fixed window that starts at the first hit. */
import {
  type AlgorithmModel,
  decodeState,
  type Refund,
  type Step,
  type StepLimit,
} from "./step.ts";

/**
 * Admits `count` units per window; the window opens at the subject's first
 * hit (not on the wall clock, so clients do not all reset at once) and the
 * key expires when it closes.
 *
 * State: `"<startMs>:<used>:<seenMs>"`.
 *
 * @example
 * fixedWindowStep(null, 0, { count: 2, periodMs: 1000, burst: 2, cost: 1 }).consumed.remaining // 1
 */
export function fixedWindowStep(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
): Step {
  const state = decodeState(raw, 3);
  const now = state ? Math.max(nowMs, state[2] as number) : nowMs;
  const open = state !== undefined && now < (state[0] as number) + limit.periodMs;
  const start = open ? (state[0] as number) : now;
  const used = open ? (state[1] as number) : 0;
  const end = start + limit.periodMs - now;
  const allowed = used + limit.cost <= limit.count;
  const retryMs = allowed ? 0 : end;
  const after = used + limit.cost;
  return {
    allowed,
    remaining: Math.max(0, limit.count - used),
    resetMs: allowed ? (used > 0 ? end : 0) : retryMs,
    retryMs,
    consumed: {
      remaining: Math.max(0, limit.count - after),
      resetMs: end,
      retryMs: after + limit.cost <= limit.count ? 0 : end,
      value: `${start}:${after}:${now}`,
      ttlMs: Math.max(1, end),
    },
  };
}

/** Takes `cost` off the open window's count (never below 0); a closed window has nothing to give back. */
export function fixedWindowRefund(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
): Refund | undefined {
  const state = decodeState(raw, 3);
  if (!state) return undefined;
  const [start, used, seen] = state as [number, number, number];
  const now = Math.max(nowMs, seen);
  const end = start + limit.periodMs - now;
  if (end <= 0) return undefined;
  return { value: `${start}:${Math.max(0, used - limit.cost)}:${now}`, ttlMs: end };
}

export const fixedWindow: AlgorithmModel = { step: fixedWindowStep, refund: fixedWindowRefund };
