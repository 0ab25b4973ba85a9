/** @module stores/redis/scripts — Lua scripts with their SHA-1 pinned (a test loads each and checks it). */

/**
 * Evaluates every limit of one rule in one call, then commits all or none.
 * Line for line the same arithmetic as the models in `algorithms/` (GCRA in
 * integer µs, the others in ms); numbers are formatted with %d because Lua's
 * tostring keeps only 14 significant digits. Every value stays an integer
 * below 2^53, where Lua's doubles are exact.
 *
 * KEYS[i]: state key of limit i (one GET and at most one SET each).
 * ARGV: now_ms, mode, then per limit: algo (see ALGORITHM_CODE), count,
 * period_ms, burst, cost.
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

local function bucket_missing(missing, seen, now, count, full)
  local stored = math.min(tonumber(missing), full)
  local refilled = (now - seen) * count
  if refilled >= stored then return 0 end
  return stored - refilled
end

local function bucket(raw, count, period, burst, cost)
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
  local after = full
  if allowed then after = missing + price end
  local s = {}
  s.allowed = allowed
  s.remaining = math.floor((full - missing) / period)
  s.retry = wait(missing)
  if allowed then s.reset = math.ceil(missing / count) else s.reset = s.retry end
  s.c_remaining = math.floor((full - after) / period)
  s.c_reset = math.ceil(after / count)
  s.c_retry = wait(after)
  s.value = string.format('%d:%d', after, now)
  s.ttl = math.max(1, math.ceil(after / count))
  return s
end

local function bucket_refund(raw, count, period, burst, cost)
  local missing, seen
  if raw then missing, seen = string.match(raw, '^(%d+):(%d+)$') end
  if not missing then return nil end
  local now = math.max(now_ms, tonumber(seen))
  missing = bucket_missing(missing, tonumber(seen), now, count, burst * period)
  local price = cost * period
  local after = 0
  if missing >= price then after = missing - price end
  return string.format('%d:%d', after, now), math.max(1, math.ceil(after / count))
end

local function window_at(raw, count, period)
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

local function log_read(raw, period)
  local seen, rest
  if raw then seen, rest = string.match(raw, '^(%d+)(.*)$') end
  if seen and string.gsub(rest, ':%d+,%d+', '') ~= '' then seen = nil end
  local now = now_ms
  local entries = {}
  local used = 0
  if seen then
    seen = tonumber(seen)
    now = math.max(now_ms, seen)
    for age, c in string.gmatch(rest, ':(%d+),(%d+)') do
      local at = seen - tonumber(age)
      if now - at < period then
        table.insert(entries, { at = at, cost = tonumber(c) })
        used = used + tonumber(c)
      end
    end
  end
  return now, entries, used
end

local function log_encode(now, entries)
  local parts = { string.format('%d', now) }
  for _, e in ipairs(entries) do table.insert(parts, string.format(':%d,%d', now - e.at, e.cost)) end
  return table.concat(parts)
end

local function log_empty(entries, now, period)
  local last = entries[#entries]
  if last then return last.at + period - now end
  return 0
end

local function log_wait(entries, used, now, count, period, cost)
  local left = used
  local wait = 0
  for _, e in ipairs(entries) do
    if left + cost <= count then break end
    left = left - e.cost
    wait = e.at + period - now
  end
  return wait
end

local function slog(raw, count, period, burst, cost)
  local now, entries, used = log_read(raw, period)
  local allowed = used + cost <= count
  local retry = log_wait(entries, used, now, count, period, cost)
  local after = {}
  for i, e in ipairs(entries) do after[i] = { at = e.at, cost = e.cost } end
  local last = after[#after]
  if last and last.at == now then last.cost = last.cost + cost else table.insert(after, { at = now, cost = cost }) end
  while #after > count do
    after[2].cost = after[2].cost + after[1].cost
    table.remove(after, 1)
  end
  local s = {}
  s.allowed = allowed
  s.remaining = math.max(0, count - used)
  if allowed then s.reset = log_empty(entries, now, period) else s.reset = retry end
  s.retry = retry
  s.c_remaining = math.max(0, count - used - cost)
  s.c_reset = period
  s.c_retry = log_wait(after, used + cost, now, count, period, cost)
  s.value = log_encode(now, after)
  s.ttl = period
  return s
end

local function slog_refund(raw, count, period, burst, cost)
  local now, entries = log_read(raw, period)
  if #entries == 0 then return nil end
  local owed = cost
  while owed > 0 and #entries > 0 do
    local last = entries[#entries]
    local taken = math.min(owed, last.cost)
    last.cost = last.cost - taken
    owed = owed - taken
    if last.cost == 0 then table.remove(entries) end
  end
  return log_encode(now, entries), math.max(1, log_empty(entries, now, period))
end

local algos = {
  g = { step = gcra, refund = gcra_refund },
  t = { step = bucket, refund = bucket_refund },
  f = { step = function(raw, count, period, burst, cost) return fixed(raw, count, period, cost) end, refund = fixed_refund },
  s = { step = sliding, refund = sliding_refund },
  l = { step = slog, refund = slog_refund },
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
  decide: { text: DECIDE_SCRIPT, sha1: "530ae9fe7973d8443415c49864d4bf2e5ae7f014" },
} as const;

/** Algorithm codes in the decide script's ARGV. */
export const ALGORITHM_CODE = {
  gcra: "g",
  "token-bucket": "t",
  "fixed-window": "f",
  "sliding-window": "s",
  "sliding-log": "l",
} as const;
