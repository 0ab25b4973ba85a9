/** @module limiter/algorithms/gcra — reference model of the generic cell rate algorithm. */
import {
  type AlgorithmModel,
  decodeState,
  type LuaAlgorithm,
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

/**
 * Reserves the cost for a request arriving `waitMs` from now: its TAT is
 * counted from that arrival, so each delayed request takes the next slot.
 *
 * @example
 * gcraReserve("1780000000500000:1780000000000", 1_780_000_000_000, { count: 10, periodMs: 1000, burst: 5, cost: 1 }, 100).value;
 * // "1780000000600000:1780000000000"
 */
export function gcraReserve(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
  waitMs: number,
): Step["consumed"] {
  const state = decodeState(raw, 2);
  const seenMs = state ? Math.max(nowMs, state[1] as number) : nowMs;
  const now = seenMs * 1000;
  const interval = Math.ceil((limit.periodMs * 1000) / limit.count);
  const capacity = limit.burst * interval;
  const arrival = now + waitMs * 1000;
  const newTat = Math.max(state ? (state[0] as number) : 0, arrival) + limit.cost * interval;
  return {
    remaining: Math.max(0, Math.floor((capacity - (newTat - now)) / interval)),
    resetMs: Math.ceil((newTat - now) / 1000),
    retryMs: Math.ceil(Math.max(0, newTat + limit.cost * interval - capacity - now) / 1000),
    value: `${newTat}:${seenMs}`,
    ttlMs: Math.max(1, Math.ceil((newTat - now) / 1000)),
  };
}

export const gcra: AlgorithmModel = { step: gcraStep, refund: gcraRefund, reserve: gcraReserve };

/**
 * The same arithmetic in Lua, for the Redis decide script (assembled in
 * stores/redis/scripts.ts); the property tests hold it to the model above.
 */
export const gcraLua: LuaAlgorithm = {
  code: "g",
  source: `local function gcra(raw, count, period, burst, cost)
  local tat, seen
  if raw then tat, seen = string.match(raw, '^(%d+):(%d+)$') end
  if tat then seen = math.max(now_ms, tonumber(seen)) else seen = now_ms end
  local now = seen * 1000
  local interval = math.ceil(period * 1000 / count)
  local capacity = burst * interval
  local increment = cost * interval
  if tat then tat = math.max(tonumber(tat), now) else tat = now end
  local new_tat = tat + increment
  local retry = ceil_ms(math.max(0, tat + increment - capacity - now))
  local allowed = new_tat - now <= capacity
  local s = {}
  s.allowed = allowed
  s.remaining = math.max(0, math.floor((capacity - (tat - now)) / interval))
  s.retry = retry
  if allowed then s.reset = ceil_ms(tat - now) else s.reset = retry end
  s.c_remaining = math.max(0, math.floor((capacity - (new_tat - now)) / interval))
  s.c_reset = ceil_ms(new_tat - now)
  s.c_retry = ceil_ms(math.max(0, new_tat + increment - capacity - now))
  s.value = string.format('%d:%d', new_tat, seen)
  s.ttl = math.max(1, ceil_ms(new_tat - now))
  return s
end

local function gcra_refund(raw, count, period, burst, cost)
  local tat, seen
  if raw then tat, seen = string.match(raw, '^(%d+):(%d+)$') end
  if not tat then return nil end
  seen = math.max(now_ms, tonumber(seen))
  local now = seen * 1000
  local interval = math.ceil(period * 1000 / count)
  tat = math.max(now, tonumber(tat) - cost * interval)
  return string.format('%d:%d', tat, seen), math.max(1, ceil_ms(tat - now))
end

local function gcra_reserve(raw, count, period, burst, cost, wait)
  local tat, seen
  if raw then tat, seen = string.match(raw, '^(%d+):(%d+)$') end
  if tat then seen = math.max(now_ms, tonumber(seen)); tat = tonumber(tat) else seen = now_ms; tat = 0 end
  local now = seen * 1000
  local interval = math.ceil(period * 1000 / count)
  local capacity = burst * interval
  local new_tat = math.max(tat, now + wait * 1000) + cost * interval
  local s = {}
  s.c_remaining = math.max(0, math.floor((capacity - (new_tat - now)) / interval))
  s.c_reset = ceil_ms(new_tat - now)
  s.c_retry = ceil_ms(math.max(0, new_tat + cost * interval - capacity - now))
  s.value = string.format('%d:%d', new_tat, seen)
  s.ttl = math.max(1, ceil_ms(new_tat - now))
  return s
end

algos.g = { step = gcra, refund = gcra_refund, reserve = gcra_reserve }
`,
};
