/** @module stores/redis/scripts — the Lua scripts, assembled from each algorithm's fragment, with their SHA-1 pinned (a test loads each and checks it). */

import { adaptiveLua } from "../../limiter/adaptive.ts";
import { fixedWindowLua } from "../../limiter/algorithms/fixed-window.ts";
import { gcraLua } from "../../limiter/algorithms/gcra.ts";
import { slidingLogLua } from "../../limiter/algorithms/sliding-log.ts";
import { slidingWindowLua } from "../../limiter/algorithms/sliding-window.ts";
import type { LuaAlgorithm } from "../../limiter/algorithms/step.ts";
import { tokenBucketLua } from "../../limiter/algorithms/token-bucket.ts";
import { banLua } from "../../limiter/ban.ts";
import { leaseLua } from "../../limiter/lease.ts";
import type { Algorithm } from "../../policy/types.ts";

/** Each algorithm's Lua, by policy name; the code letter is what ARGV carries. */
const LUA: Record<Algorithm, LuaAlgorithm> = {
  gcra: gcraLua,
  "token-bucket": tokenBucketLua,
  "fixed-window": fixedWindowLua,
  "sliding-window": slidingWindowLua,
  "sliding-log": slidingLogLua,
};

const PRELUDE = `#!lua flags=allow-key-locking
local now_ms = 0
local max_delay = 0
local function ceil_ms(us) return math.ceil(us / 1000) end
local algos = {}
`;

const DRIVER = `local arg_at = 1
local key_at = 1
local function next_arg()
  local v = ARGV[arg_at]
  arg_at = arg_at + 1
  return v
end

local function get(key)
  local raw = redis.call('GET', key)
  if raw then return raw end
  return nil
end

local function read_limits(k)
  local limits = {}
  for i = 1, k do
    limits[i] = {
      key = KEYS[key_at],
      algo = algos[next_arg()],
      count = tonumber(next_arg()),
      period = tonumber(next_arg()),
      burst = tonumber(next_arg()),
      cost = tonumber(next_arg()),
      floor = tonumber(next_arg()),
    }
    key_at = key_at + 1
  end
  return limits
end

local function read_ban()
  if next_arg() ~= '1' then return nil end
  local ban = {
    key = KEYS[key_at],
    after = tonumber(next_arg()),
    within = tonumber(next_arg()),
    dur = tonumber(next_arg()),
    escalate = tonumber(next_arg()),
    max = tonumber(next_arg()),
  }
  key_at = key_at + 1
  return ban
end

local function read_lease()
  if next_arg() ~= '1' then return nil end
  local lease = {
    key = KEYS[key_at],
    max = tonumber(next_arg()),
    id = next_arg(),
    ttl = tonumber(next_arg()),
  }
  key_at = key_at + 1
  return lease
end

local function read_adaptive()
  if next_arg() ~= '1' then return nil end
  local c, r = {}, {}
  for i = 1, 12 do c[i] = tonumber(next_arg()) end
  for i = 1, 5 do r[i] = tonumber(next_arg()) end
  local spec = { key = KEYS[key_at], c = c, r = r }
  key_at = key_at + 1
  return spec
end

-- Adds the report to the rule's controller and scales the limits by the
-- factor now in force; the factor and pause go in the header.
local function adapt(spec, limits)
  if not spec then return 0, 0 end
  local value, ttl, factor, pause_until = adaptive_step(get(spec.key), spec.c, spec.r)
  redis.call('SET', spec.key, value, 'PX', ttl)
  for _, l in ipairs(limits) do
    l.count, l.burst = adaptive_scale(l.count, l.burst, l.cost, factor)
  end
  return factor, pause_until
end

local function release(lease, out)
  local value, ttl = lease_release(get(lease.key), lease.id)
  if value then redis.call('SET', lease.key, value, 'PX', ttl) end
  table.insert(out, 1)
end

local function refund(limits, out)
  for _, l in ipairs(limits) do
    local value, ttl = l.algo.refund(get(l.key), l.count, l.period, l.burst, l.cost, l.floor)
    if value then redis.call('SET', l.key, value, 'PX', ttl) end
  end
  table.insert(out, 1)
end

local function banned(untl, level, started, k, out)
  table.insert(out, 0)
  table.insert(out, untl)
  table.insert(out, level)
  table.insert(out, started)
  table.insert(out, 0)
  table.insert(out, 0)
  table.insert(out, 0)
  for _ = 1, 4 * k do table.insert(out, 0) end
end

-- The concurrency cap is full: refused, nothing consumed unless denied requests count.
local function lease_full(limits, steps, mode, max, in_flight, out)
  table.insert(out, 0)
  table.insert(out, 0)
  table.insert(out, 0)
  table.insert(out, 0)
  table.insert(out, 0)
  table.insert(out, max)
  table.insert(out, in_flight)
  for i, l in ipairs(limits) do
    local s = steps[i]
    if mode == 'c' then redis.call('SET', l.key, s.value, 'PX', s.ttl) end
    table.insert(out, s.allowed and 1 or 0)
    table.insert(out, s.remaining)
    table.insert(out, s.reset)
    table.insert(out, s.retry)
  end
end

-- The wait after which every limit admits a denied request, if each can
-- reserve and it is within max_delay; nil otherwise.
local function delay_wait(limits, steps)
  local wait = 0
  for i, l in ipairs(limits) do
    if not l.algo.reserve then return nil end
    wait = math.max(wait, steps[i].retry)
  end
  if wait > max_delay then return nil end
  return wait
end

-- Reserves each cost for the wait and admits the request with that delay.
local function delayed(limits, wait, out)
  table.insert(out, 1)
  table.insert(out, 0)
  table.insert(out, 0)
  table.insert(out, 0)
  table.insert(out, wait)
  table.insert(out, 0)
  table.insert(out, 0)
  for _, l in ipairs(limits) do
    local r = l.algo.reserve(get(l.key), l.count, l.period, l.burst, l.cost, wait, l.floor)
    redis.call('SET', l.key, r.value, 'PX', r.ttl)
    table.insert(out, 1)
    table.insert(out, r.c_remaining)
    table.insert(out, r.c_reset)
    table.insert(out, 0)
  end
end

local function decide(limits, mode, ban, lease, out)
  if ban then
    local untl, level = ban_in(get(ban.key))
    if untl then return banned(untl, level, 0, #limits, out) end
  end
  local steps = {}
  local all = true
  for i, l in ipairs(limits) do
    local s = l.algo.step(get(l.key), l.count, l.period, l.burst, l.cost, l.floor)
    steps[i] = s
    if not s.allowed then all = false end
  end
  local wait = nil
  if not all and mode ~= 'p' and max_delay > 0 then wait = delay_wait(limits, steps) end
  if (all or wait) and lease and mode ~= 'p' then
    local value, ttl = lease_acquire(get(lease.key), lease.max, lease.id, lease.ttl)
    if not value then return lease_full(limits, steps, mode, lease.max, ttl, out) end
    redis.call('SET', lease.key, value, 'PX', ttl)
  end
  if wait then return delayed(limits, wait, out) end
  local commit = mode ~= 'p' and (all or mode == 'c')
  local ban_until, ban_level = 0, 0
  if ban and not all and mode ~= 'p' then
    local value, ttl, started, level = ban_strike(get(ban.key), ban.after, ban.within, ban.dur, ban.escalate, ban.max)
    redis.call('SET', ban.key, value, 'PX', ttl)
    if started > 0 then ban_until, ban_level = started, level end
  end
  table.insert(out, all and 1 or 0)
  table.insert(out, ban_until)
  table.insert(out, ban_level)
  table.insert(out, ban_until > 0 and 1 or 0)
  table.insert(out, 0)
  table.insert(out, 0)
  table.insert(out, 0)
  for i, l in ipairs(limits) do
    local s = steps[i]
    table.insert(out, s.allowed and 1 or 0)
    if commit then
      redis.call('SET', l.key, s.value, 'PX', s.ttl)
      local reset = s.c_reset
      if not s.allowed then reset = s.c_retry end
      table.insert(out, s.c_remaining)
      table.insert(out, reset)
      table.insert(out, s.c_retry)
    else
      table.insert(out, s.remaining)
      table.insert(out, s.reset)
      table.insert(out, s.retry)
    end
  end
end

local out = {}
local n = tonumber(next_arg())
for _ = 1, n do
  now_ms = tonumber(next_arg())
  local mode = next_arg()
  max_delay = tonumber(next_arg())
  local limits = read_limits(tonumber(next_arg()))
  local ban = read_ban()
  local lease = read_lease()
  local adaptive = read_adaptive()
  if mode == 'r' then
    refund(limits, out)
  elseif mode == 'l' then
    release(lease, out)
  else
    local factor, pause_until = adapt(adaptive, limits)
    table.insert(out, factor)
    table.insert(out, pause_until)
    decide(limits, mode, ban, lease, out)
  end
end
return out
`;

/**
 * Evaluates a batch of decisions in one call, in order, each atomically and
 * all-or-nothing across its limits: the same decisions, one at a time, would
 * decide exactly the same (the script runs alone, and each decision sees the
 * writes of those before it). Line for line the same arithmetic as the
 * models in `limiter/algorithms/` (GCRA in integer µs, the others in ms);
 * numbers are formatted with %d because Lua's tostring keeps only 14
 * significant digits. Every value stays an integer below 2^53, where Lua's
 * doubles are exact.
 *
 * KEYS: every decision's state keys, in order (one GET and at most one SET
 * each), then its ban key when it has one.
 * ARGV: n, then per decision: now_ms, mode, max_delay_ms (0: never wait), k,
 * then per limit: algo (see
 * ALGORITHM_CODE), count, period_ms, burst, cost, floor_count (the smallest
 * count it may be scaled to; a bucket's key lives until it refills at that); then `1` and the ban's
 * after, within_ms, for_ms, escalate, max_ms, or `0` for no ban; then `1`
 * and the lease's max, id, ttl_ms (its key next in KEYS), or `0`; then `1`,
 * the adaptive controller's 12 settings and the isolate's 5-number report
 * (its key next in KEYS), or `0`.
 * Modes: `d` decide, `c` decide counting rejected requests, `p` peek (write
 * nothing), `r` refund (give each cost back), `l` release the lease.
 * Returns, per decision in order: `r`, `l` → 1; otherwise factor_ppm and
 * pause_until (0 without a controller), allowed,
 * ban_until, ban_level, ban_started (a subject banned before this decision
 * gets zeros for its limits), delay_ms (admitted after this wait, its costs
 * reserved for then), lease_max and in_flight (non-zero when the concurrency
 * cap refused it), then per limit: allowed, remaining, reset_ms, wait_ms.
 *
 * The `allow-key-locking` flag lets Upstash lock only the declared keys.
 */
export const DECIDE_SCRIPT = [
  PRELUDE,
  ...Object.values(LUA).map((a) => a.source),
  banLua.source,
  leaseLua.source,
  adaptiveLua.source,
  DRIVER,
].join("\n");

/**
 * One batch, atomically: every `expect` is checked first, then the writes are
 * applied; a script (not MULTI) so the check and the writes cannot interleave
 * with another client. Returns 1 when applied, 0 when an expectation failed.
 */
export const WRITE_SCRIPT = `
local ops = cjson.decode(ARGV[1])
for _, op in ipairs(ops) do
  if op.op == "expect" then
    local current = redis.call("GET", op.key)
    if op.value == cjson.null then
      if current then return 0 end
    elseif current ~= op.value then
      return 0
    end
  end
end
for _, op in ipairs(ops) do
  if op.op == "set" then
    redis.call("SET", op.key, op.value)
  elseif op.op == "add" then
    redis.call("SADD", op.set, op.member)
  elseif op.op == "push" then
    redis.call("LPUSH", op.list, op.value)
    redis.call("LTRIM", op.list, 0, op.max - 1)
  end
end
return 1
`;

/** Every script the stores use, by name, with the SHA-1 of its exact text. */
export const SCRIPTS = {
  decide: { text: DECIDE_SCRIPT, sha1: "3a5e6c9c91fec1ed7e32c5aa5adf00a2ab4086ab" },
  write: { text: WRITE_SCRIPT, sha1: "25729d0a1fd43c51f36e9a3761a7d2cc7b9822b0" },
} as const;

/** The slice of a Redis client that runs scripts. */
export interface ScriptRunner {
  evalsha(sha1: string, keys: string[], args: string[]): Promise<unknown>;
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
}

/**
 * Runs a registered script by its SHA-1: one command, one round trip. Only
 * after a script-cache flush (a fresh server) does it pay one extra EVAL,
 * which also caches the script again.
 *
 * @example
 * await runScript(redis, SCRIPTS.decide, keys, args);
 */
export async function runScript(
  redis: ScriptRunner,
  script: { text: string; sha1: string },
  keys: string[],
  args: string[],
): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha1, keys, args);
  } catch (err) {
    if (err instanceof Error && err.message.includes("NOSCRIPT")) {
      return await redis.eval(script.text, keys, args);
    }
    throw err;
  }
}

/** Algorithm codes in the decide script's ARGV. */
export const ALGORITHM_CODE = Object.fromEntries(
  Object.entries(LUA).map(([name, lua]) => [name, lua.code]),
) as Record<Algorithm, string>;
