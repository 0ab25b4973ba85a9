/** @module limiter/scripts — Lua scripts with their SHA-1 pinned (a test loads each and checks it). */

/**
 * Evaluates every limit of one rule in one call, then commits all or none.
 * Line for line the same arithmetic as `model.ts` (GCRA in integer µs, fixed
 * window in ms); numbers are formatted with %d because Lua's tostring keeps
 * only 14 significant digits.
 *
 * KEYS[i]: state key of limit i.
 * ARGV: now_ms, mode, then per limit: algo (g|f), count, period_ms, burst, cost.
 * Modes: `d` decide, `c` decide counting rejected requests, `p` peek (write
 * nothing), `r` refund (give each cost back; replies `{1}`).
 * Returns: allowed, then per limit: allowed, remaining, reset_ms, wait_ms.
 *
 * The `allow-key-locking` flag lets Upstash lock only the declared keys.
 */
export const DECIDE_SCRIPT = `#!lua flags=allow-key-locking
local now_ms = tonumber(ARGV[1])
local mode = ARGV[2]
local function ceil_ms(us) return math.ceil(us / 1000) end

local function gcra(raw, count, period, burst, cost)
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

local function fixed(raw, count, period, cost)
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

local algos = {
  g = { step = gcra, refund = gcra_refund },
  f = { step = function(raw, count, period, burst, cost) return fixed(raw, count, period, cost) end, refund = fixed_refund },
}

local function limit_args(i)
  local a = 2 + (i - 1) * 5
  return algos[ARGV[a + 1]], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
end

local function get(key)
  local raw = redis.call('GET', key)
  if raw then return raw end
  return nil
end

if mode == 'r' then
  for i = 1, #KEYS do
    local algo, count, period, burst, cost = limit_args(i)
    local value, ttl = algo.refund(get(KEYS[i]), count, period, burst, cost)
    if value then redis.call('SET', KEYS[i], value, 'PX', ttl) end
  end
  return { 1 }
end

local steps = {}
local all = true
for i = 1, #KEYS do
  local algo, count, period, burst, cost = limit_args(i)
  local s = algo.step(get(KEYS[i]), count, period, burst, cost)
  steps[i] = s
  if not s.allowed then all = false end
end

local commit = mode ~= 'p' and (all or mode == 'c')
local out = { all and 1 or 0 }
for i = 1, #KEYS do
  local s = steps[i]
  local allowed = s.allowed and 1 or 0
  if commit then
    redis.call('SET', KEYS[i], s.value, 'PX', s.ttl)
    local reset = s.c_reset
    if not s.allowed then reset = s.c_retry end
    table.insert(out, allowed)
    table.insert(out, s.c_remaining)
    table.insert(out, reset)
    table.insert(out, s.c_retry)
  else
    table.insert(out, allowed)
    table.insert(out, s.remaining)
    table.insert(out, s.reset)
    table.insert(out, s.retry)
  end
end
return out
`;

/** Every script the stores use, by name, with the SHA-1 of its exact text. */
export const SCRIPTS = {
  decide: { text: DECIDE_SCRIPT, sha1: "0555cba131e37a30cc2ea21367d2d19932829128" },
} as const;

/** Algorithm codes in the decide script's ARGV. */
export const ALGORITHM_CODE = { gcra: "g", "fixed-window": "f" } as const;
