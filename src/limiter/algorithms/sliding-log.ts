/** @module limiter/algorithms/sliding-log — reference model of an exact sliding log. */
import type { AlgorithmModel, LuaAlgorithm, Refund, Step, StepLimit } from "./step.ts";

/** One logged instant: `cost` units spent at `at` (ms, the key's clock). */
interface Entry {
  at: number;
  cost: number;
}

/**
 * Exact "no more than `count` units in any `periodMs`": the key keeps a log
 * of the units spent in the last period (entries at the same ms merged), and
 * a request of cost c is admitted when the units logged in the last
 * `periodMs` plus c are at most `count`. An entry stops counting `periodMs`
 * after it was made, so Retry-After points at the moment enough of the
 * oldest entries have aged out.
 *
 * Admitted units never exceed `count` per period, so the log holds at most
 * `count` entries. Denied requests that count (countRejected) are logged
 * too; past `count` entries the oldest one is merged into the next, which
 * only delays its expiry, so the bound stays exact and the log stays small.
 *
 * State: `"<seenMs>"` then `":<age>,<cost>"` per entry, oldest first, where
 * age = seenMs − time of the entry.
 *
 * Mirrored line for line by the Lua script in `scripts.ts`.
 *
 * @example
 * slidingLogStep(null, 0, { count: 3, periodMs: 60_000, burst: 3, cost: 1 }).consumed.value // "0:0,1"
 */
export function slidingLogStep(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
): Step {
  const { count, periodMs: p, cost } = limit;
  const { now, entries, used } = readLog(raw, nowMs, p);
  const allowed = used + cost <= count;
  const retryMs = logWait(entries, used, now, limit);
  const after = entries.map((e) => ({ ...e }));
  const last = after[after.length - 1];
  if (last && last.at === now) last.cost += cost;
  else after.push({ at: now, cost });
  while (after.length > count) {
    const [oldest, next] = after as [Entry, Entry];
    next.cost += oldest.cost;
    after.shift();
  }
  return {
    allowed,
    remaining: Math.max(0, count - used),
    resetMs: allowed ? untilEmpty(entries, now, p) : retryMs,
    retryMs,
    consumed: {
      remaining: Math.max(0, count - used - cost),
      resetMs: p,
      retryMs: logWait(after, used + cost, now, limit),
      value: encodeLog(now, after),
      ttlMs: p,
    },
  };
}

/** The log at the key's time, entries older than one period dropped. */
function readLog(raw: string | null | undefined, nowMs: number, p: number) {
  const parsed = decodeLog(raw);
  const now = parsed ? Math.max(nowMs, parsed.seen) : nowMs;
  const entries = (parsed?.entries ?? []).filter((e) => now - e.at < p);
  const used = entries.reduce((sum, e) => sum + e.cost, 0);
  return { now, entries, used };
}

/** Parses `"<seen>(:<age>,<cost>)*"`; anything else reads as "no state". */
function decodeLog(raw: string | null | undefined): { seen: number; entries: Entry[] } | undefined {
  if (raw == null || !/^\d+(:\d+,\d+)*$/.test(raw)) return undefined;
  const [head, ...rest] = raw.split(":");
  const seen = Number(head);
  const entries = rest.map((part) => {
    const [age, cost] = part.split(",").map(Number) as [number, number];
    return { at: seen - age, cost };
  });
  const safe = [seen, ...entries.flatMap((e) => [e.at, e.cost])].every(Number.isSafeInteger);
  return safe ? { seen, entries } : undefined;
}

function encodeLog(now: number, entries: readonly Entry[]): string {
  return `${now}${entries.map((e) => `:${now - e.at},${e.cost}`).join("")}`;
}

/** ms until the newest entry stops counting (0 for an empty log). */
function untilEmpty(entries: readonly Entry[], now: number, p: number): number {
  const last = entries[entries.length - 1];
  return last ? last.at + p - now : 0;
}

/** ms until enough of the oldest entries age out for `cost` to fit (0 if it fits now). */
function logWait(entries: readonly Entry[], used: number, now: number, limit: StepLimit): number {
  let left = used;
  let wait = 0;
  for (const e of entries) {
    if (left + limit.cost <= limit.count) break;
    left -= e.cost;
    wait = e.at + limit.periodMs - now;
  }
  return wait;
}

/** Removes the newest entries worth `cost` (splitting the last one touched); an empty log has nothing to give back. */
export function slidingLogRefund(
  raw: string | null | undefined,
  nowMs: number,
  limit: StepLimit,
): Refund | undefined {
  const { now, entries } = readLog(raw, nowMs, limit.periodMs);
  if (entries.length === 0) return undefined;
  let owed = limit.cost;
  while (owed > 0 && entries.length > 0) {
    const last = entries[entries.length - 1] as Entry;
    const taken = Math.min(owed, last.cost);
    last.cost -= taken;
    owed -= taken;
    if (last.cost === 0) entries.pop();
  }
  return {
    value: encodeLog(now, entries),
    ttlMs: Math.max(1, untilEmpty(entries, now, limit.periodMs)),
  };
}

export const slidingLog: AlgorithmModel = { step: slidingLogStep, refund: slidingLogRefund };

/**
 * The same arithmetic in Lua, for the Redis decide script (assembled in
 * stores/redis/scripts.ts); the property tests hold it to the model above.
 */
export const slidingLogLua: LuaAlgorithm = {
  code: "l",
  source: `local function log_read(raw, period)
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

algos.l = { step = slog, refund = slog_refund }
`,
};
