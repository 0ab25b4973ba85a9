/** @module limiter/algorithms/fixed-window — reference model of a fixed window that starts at the first hit. */
import {
  type AlgorithmModel,
  decodeState,
  type LuaAlgorithm,
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

/**
 * The same arithmetic in Lua, for the Redis decide script (assembled in
 * stores/redis/scripts.ts); the property tests hold it to the model above.
 */
export const fixedWindowLua: LuaAlgorithm = {
  code: "f",
  source: `local function fixed(raw, count, period, burst, cost)
  local start, used, seen
  if raw then start, used, seen = string.match(raw, '^(%d+):(%d+):(%d+)$') end
  local now = now_ms
  if start then now = math.max(now_ms, tonumber(seen)) end
  if start and now < tonumber(start) + period then
    start = tonumber(start)
    used = tonumber(used)
  else
    start = now
    used = 0
  end
  local left = start + period - now
  local after = used + cost
  local allowed = after <= count
  local s = {}
  s.allowed = allowed
  s.remaining = math.max(0, count - used)
  if allowed then s.retry = 0 else s.retry = left end
  if not allowed then s.reset = left elseif used > 0 then s.reset = left else s.reset = 0 end
  s.c_remaining = math.max(0, count - after)
  s.c_reset = left
  if after + cost <= count then s.c_retry = 0 else s.c_retry = left end
  s.value = string.format('%d:%d:%d', start, after, now)
  s.ttl = math.max(1, left)
  return s
end

local function fixed_refund(raw, count, period, burst, cost)
  local start, used, seen
  if raw then start, used, seen = string.match(raw, '^(%d+):(%d+):(%d+)$') end
  if not start then return nil end
  local now = math.max(now_ms, tonumber(seen))
  local left = tonumber(start) + period - now
  if left <= 0 then return nil end
  return string.format('%d:%d:%d', start, math.max(0, tonumber(used) - cost), now), left
end

algos.f = { step = fixed, refund = fixed_refund }
`,
};
