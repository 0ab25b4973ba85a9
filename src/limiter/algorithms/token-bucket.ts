/** @module limiter/algorithms/token-bucket — reference model of a token bucket with continuous refill. */
import {
  type AlgorithmModel,
  decodeState,
  type LuaAlgorithm,
  type Refund,
  type Step,
  type StepLimit,
} from "./step.ts";

/**
 * A bucket of `burst` tokens refilled with `count` tokens per `periodMs`,
 * continuously. To keep the refill exact in integers, one token is `periodMs`
 * units, so the bucket gains `count` units per ms and holds `burst · periodMs`
 * units when full (validation keeps that below 2^53).
 *
 * State: `"<missing>:<seenMs>"`, the units missing from a full bucket at
 * `seenMs` (0 = full, the same as no state). A request of cost c is admitted
 * when the bucket holds c tokens. A denied request that counts (countRejected)
 * empties the bucket: hammering keeps it below one request's cost.
 *
 * Mirrored line for line by the Lua script in `scripts.ts`.
 *
 * @example
 * tokenBucketStep(null, 0, { count: 10, periodMs: 1000, burst: 20, cost: 1 }).consumed.remaining // 19
 */
export function tokenBucketStep(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
): Step {
  const state = decodeState(raw, 2);
  const now = state ? Math.max(nowMs, state[1] as number) : nowMs;
  const full = limit.burst * limit.periodMs;
  const price = limit.cost * limit.periodMs;
  const missing = missingAt(state, now, limit);
  // Units the bucket may be missing and still pay for one request.
  const room = full - price;
  const allowed = missing <= room;
  const wait = (m: number) => (m <= room ? 0 : Math.ceil((m - room) / limit.count));
  // A counted denial empties the bucket, never forgives what delayed requests owe.
  const after = allowed ? missing + price : Math.max(missing, full);
  const retryMs = wait(missing);
  return {
    allowed,
    // A delayed request may leave the bucket owing units: never below 0 left.
    remaining: Math.max(0, Math.floor((full - missing) / limit.periodMs)),
    resetMs: allowed ? Math.ceil(missing / limit.count) : retryMs,
    retryMs,
    consumed: {
      remaining: Math.floor((full - after) / limit.periodMs),
      resetMs: Math.ceil(after / limit.count),
      retryMs: wait(after),
      value: `${after}:${now}`,
      ttlMs: lifeMs(after, limit),
    },
  };
}

/**
 * Units missing at `now`: the stored amount less `count` per ms since it was
 * stored. It exceeds a full bucket only when delayed requests owe refill (or
 * the burst was lowered since: the bucket then owes the difference).
 * Compares before subtracting, so a long idle time cannot overflow into a
 * wrong answer.
 */
function missingAt(state: number[] | undefined, now: number, limit: StepLimit): number {
  if (!state) return 0;
  const stored = state[0] as number;
  const refilled = (now - (state[1] as number)) * limit.count;
  return refilled >= stored ? 0 : stored - refilled;
}

/**
 * How long a key missing `units` must live: until it refills at the smallest
 * count the limit may be scaled to. Living longer changes no decision (a
 * refilled bucket reads as no state); lapsing sooner would forgive a debt.
 */
function lifeMs(units: number, limit: StepLimit): number {
  return Math.max(1, Math.ceil(units / (limit.floorCount ?? limit.count)));
}

/** Puts `cost` tokens back, never past a full bucket; an idle key has nothing to give back. */
export function tokenBucketRefund(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
): Refund | undefined {
  const state = decodeState(raw, 2);
  if (!state) return undefined;
  const now = Math.max(nowMs, state[1] as number);
  const missing = missingAt(state, now, limit);
  const price = limit.cost * limit.periodMs;
  const after = missing >= price ? missing - price : 0;
  return { value: `${after}:${now}`, ttlMs: lifeMs(after, limit) };
}

/**
 * Reserves the cost for a request arriving `waitMs` from now: the bucket, as
 * stored now, owes what it will have refilled by then, so later requests
 * queue behind this one.
 *
 * @example
 * tokenBucketReserve("10000:0", 0, { count: 10, periodMs: 1000, burst: 10, cost: 1 }, 100).value;
 * // "11000:0"
 */
export function tokenBucketReserve(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
  waitMs: number,
): Step["consumed"] {
  const state = decodeState(raw, 2);
  const now = state ? Math.max(nowMs, state[1] as number) : nowMs;
  const full = limit.burst * limit.periodMs;
  const price = limit.cost * limit.periodMs;
  const refill = waitMs * limit.count;
  const missing = missingAt(state, now, limit);
  const atArrival = missing > refill ? missing - refill : 0;
  const owed = atArrival + price + refill;
  const room = full - price;
  return {
    remaining: Math.max(0, Math.floor((full - owed) / limit.periodMs)),
    resetMs: Math.ceil(owed / limit.count),
    retryMs: owed <= room ? 0 : Math.ceil((owed - room) / limit.count),
    value: `${owed}:${now}`,
    ttlMs: lifeMs(owed, limit),
  };
}

export const tokenBucket: AlgorithmModel = {
  step: tokenBucketStep,
  refund: tokenBucketRefund,
  reserve: tokenBucketReserve,
};

/**
 * The same arithmetic in Lua, for the Redis decide script (assembled in
 * stores/redis/scripts.ts); the property tests hold it to the model above.
 */
export const tokenBucketLua: LuaAlgorithm = {
  code: "t",
  source: `local function bucket_missing(missing, seen, now, count, full)
  local stored = tonumber(missing)
  local refilled = (now - seen) * count
  if refilled >= stored then return 0 end
  return stored - refilled
end

local function bucket(raw, count, period, burst, cost, floor)
  local missing, seen
  if raw then missing, seen = string.match(raw, '^(%d+):(%d+)$') end
  local now = now_ms
  if missing then now = math.max(now_ms, tonumber(seen)) end
  local full = burst * period
  local price = cost * period
  if missing then missing = bucket_missing(missing, tonumber(seen), now, count, full) else missing = 0 end
  local room = full - price
  local allowed = missing <= room
  local function wait(m)
    if m <= room then return 0 end
    return math.ceil((m - room) / count)
  end
  local after = math.max(missing, full)
  if allowed then after = missing + price end
  local s = {}
  s.allowed = allowed
  s.remaining = math.max(0, math.floor((full - missing) / period))
  s.retry = wait(missing)
  if allowed then s.reset = math.ceil(missing / count) else s.reset = s.retry end
  s.c_remaining = math.floor((full - after) / period)
  s.c_reset = math.ceil(after / count)
  s.c_retry = wait(after)
  s.value = string.format('%d:%d', after, now)
  s.ttl = math.max(1, math.ceil(after / floor))
  return s
end

local function bucket_refund(raw, count, period, burst, cost, floor)
  local missing, seen
  if raw then missing, seen = string.match(raw, '^(%d+):(%d+)$') end
  if not missing then return nil end
  local now = math.max(now_ms, tonumber(seen))
  missing = bucket_missing(missing, tonumber(seen), now, count, burst * period)
  local price = cost * period
  local after = 0
  if missing >= price then after = missing - price end
  return string.format('%d:%d', after, now), math.max(1, math.ceil(after / floor))
end

local function bucket_reserve(raw, count, period, burst, cost, wait, floor)
  local missing, seen
  if raw then missing, seen = string.match(raw, '^(%d+):(%d+)$') end
  local now = now_ms
  if missing then now = math.max(now_ms, tonumber(seen)) end
  local full = burst * period
  local price = cost * period
  local refill = wait * count
  if missing then missing = bucket_missing(missing, tonumber(seen), now, count, full) else missing = 0 end
  local at_arrival = 0
  if missing > refill then at_arrival = missing - refill end
  local owed = at_arrival + price + refill
  local room = full - price
  local s = {}
  s.c_remaining = math.max(0, math.floor((full - owed) / period))
  s.c_reset = math.ceil(owed / count)
  if owed <= room then s.c_retry = 0 else s.c_retry = math.ceil((owed - room) / count) end
  s.value = string.format('%d:%d', owed, now)
  s.ttl = math.max(1, math.ceil(owed / floor))
  return s
end

algos.t = { step = bucket, refund = bucket_refund, reserve = bucket_reserve }
`,
};
