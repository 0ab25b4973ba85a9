/** @module limiter/algorithms/sliding-window — reference model of the two-counter sliding window approximation. */
import {
  type AlgorithmModel,
  decodeState,
  type LuaAlgorithm,
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

/**
 * The same arithmetic in Lua, for the Redis decide script (assembled in
 * stores/redis/scripts.ts); the property tests hold it to the model above.
 */
export const slidingWindowLua: LuaAlgorithm = {
  code: "s",
  source: `local function window_at(raw, count, period)
  local index, cur, prev, seen
  if raw then index, cur, prev, seen = string.match(raw, '^(%d+):(%d+):(%d+):(%d+)$') end
  local w = { now = now_ms, cur = 0, prev = 0 }
  if index then w.now = math.max(now_ms, tonumber(seen)) end
  w.index = math.floor(w.now / period)
  if index and tonumber(index) == w.index then
    w.cur = math.min(count, tonumber(cur))
    w.prev = math.min(count, tonumber(prev))
  elseif index and tonumber(index) == w.index - 1 then
    w.prev = math.min(count, tonumber(cur))
  end
  w.elapsed = w.now - w.index * period
  return w
end

local function window_left(cur, prev, elapsed, count, period)
  return math.max(0, count - cur - math.ceil(prev * (period - elapsed) / period))
end

local function window_empty(cur, prev, elapsed, period)
  if cur > 0 then return 2 * period - elapsed end
  if prev > 0 then return period - elapsed end
  return 0
end

local function window_wait(cur, prev, elapsed, count, period, cost)
  local need = count - cur - cost
  if need >= 0 then
    local at = 0
    if prev ~= 0 then at = period - math.floor(need * period / prev) end
    if at < period then return math.max(0, at - elapsed) end
  end
  local nxt = 0
  if cur ~= 0 then nxt = math.max(0, period - math.floor((count - cost) * period / cur)) end
  return period - elapsed + nxt
end

local function sliding(raw, count, period, burst, cost)
  local w = window_at(raw, count, period)
  local need = count - w.cur - cost
  local allowed = w.prev * (period - w.elapsed) <= need * period
  local cur = math.min(count, w.cur + cost)
  local retry = window_wait(w.cur, w.prev, w.elapsed, count, period, cost)
  local s = {}
  s.allowed = allowed
  s.remaining = window_left(w.cur, w.prev, w.elapsed, count, period)
  if allowed then s.reset = window_empty(w.cur, w.prev, w.elapsed, period) else s.reset = retry end
  s.retry = retry
  s.c_remaining = window_left(cur, w.prev, w.elapsed, count, period)
  s.c_reset = window_empty(cur, w.prev, w.elapsed, period)
  s.c_retry = window_wait(cur, w.prev, w.elapsed, count, period, cost)
  s.value = string.format('%d:%d:%d:%d', w.index, cur, w.prev, w.now)
  s.ttl = math.max(1, window_empty(cur, w.prev, w.elapsed, period))
  return s
end

local function sliding_refund(raw, count, period, burst, cost)
  local w = window_at(raw, count, period)
  if w.cur == 0 and w.prev == 0 then return nil end
  local from_cur = math.min(w.cur, cost)
  local cur = w.cur - from_cur
  local prev = math.max(0, w.prev - (cost - from_cur))
  return string.format('%d:%d:%d:%d', w.index, cur, prev, w.now), math.max(1, window_empty(cur, prev, w.elapsed, period))
end

algos.s = { step = sliding, refund = sliding_refund }
`,
};
