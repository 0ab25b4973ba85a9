/** @module limiter/lease — concurrency caps: leases with deadlines, taken with a decision and given back after the response; the model and its Lua side by side. */
import type { LuaAlgorithm } from "./algorithms/step.ts";
import type { LeaseSpec } from "./types.ts";

/** A request refused by its concurrency cap may try again after this long (`Retry-After: 1`). */
export const CONCURRENCY_RETRY_MS = 1000;

/** A lease id: the caller's random token, letters and digits only (it is stored and parsed). */
export const LEASE_ID = /^[A-Za-z0-9]{1,32}$/;

/** Leases held on a key: `"<seen>,<id>:<deadline>,…"`. Anything else reads as none. */
interface Leases {
  seen: number;
  held: Array<{ id: string; deadline: number }>;
}

function decode(raw: string | null | undefined): Leases | undefined {
  if (raw == null || !/^\d+(,[A-Za-z0-9]+:\d+)*$/.test(raw)) return undefined;
  const [seen, ...rest] = raw.split(",");
  const held = rest.map((entry) => {
    const [id, deadline] = entry.split(":") as [string, string];
    return { id, deadline: Number(deadline) };
  });
  return { seen: Number(seen), held };
}

function encode(seen: number, held: ReadonlyArray<{ id: string; deadline: number }>): string {
  return [String(seen), ...held.map((h) => `${h.id}:${h.deadline}`)].join(",");
}

/** The state to store, and its lifetime: until the last lease's deadline. */
export interface LeaseWrite {
  value: string;
  ttlMs: number;
}

function write(now: number, held: Array<{ id: string; deadline: number }>): LeaseWrite {
  const last = held.reduce((m, h) => Math.max(m, h.deadline), now + 1);
  return { value: encode(now, held), ttlMs: Math.max(1, last - now) };
}

/**
 * Takes a lease when fewer than `max` are held (lapsed ones, past their
 * deadline, no longer count); reports how many are in flight otherwise.
 *
 * @example
 * leaseAcquire(null, now, { key, max: 10, id: "a1b2c3", ttlMs: 35_000 }); // { write: { value, ttlMs } }
 */
export function leaseAcquire(
  raw: string | null | undefined,
  nowMs: number,
  spec: LeaseSpec,
): { write: LeaseWrite } | { inFlight: number } {
  const state = decode(raw);
  const now = Math.max(nowMs, state?.seen ?? 0);
  const live = (state?.held ?? []).filter((h) => h.deadline > now && h.id !== spec.id);
  if (live.length >= spec.max) return { inFlight: live.length };
  live.push({ id: spec.id, deadline: now + spec.ttlMs });
  return { write: write(now, live) };
}

/**
 * Gives lease `id` back; undefined when it is not held (released already,
 * or lapsed).
 *
 * @example
 * leaseRelease(raw, now, "a1b2c3"); // { value, ttlMs }
 */
export function leaseRelease(
  raw: string | null | undefined,
  nowMs: number,
  id: string,
): LeaseWrite | undefined {
  const state = decode(raw);
  if (!state) return undefined;
  const now = Math.max(nowMs, state.seen);
  const live = state.held.filter((h) => h.deadline > now);
  const rest = live.filter((h) => h.id !== id);
  if (rest.length === live.length) return undefined;
  return write(now, rest);
}

/**
 * The same in Lua, for the decide script: `lease_acquire(raw, max, id, ttl)`
 * → value, ttl (or nil and the count in flight) and `lease_release(raw, id)`
 * → value, ttl (or nil). Reads `now_ms`.
 */
export const leaseLua: Omit<LuaAlgorithm, "code"> = {
  source: `local function lease_read(raw)
  local held = {}
  if not raw then return 0, held end
  local seen, rest = string.match(raw, '^(%d+)(.*)$')
  if not seen or string.gsub(rest, ',%w+:%d+', '') ~= '' then return 0, held end
  for id, deadline in string.gmatch(rest, ',(%w+):(%d+)') do
    table.insert(held, { id = id, deadline = tonumber(deadline) })
  end
  return tonumber(seen), held
end

local function lease_write(now, held)
  local parts = { string.format('%d', now) }
  local last = now + 1
  for _, h in ipairs(held) do
    table.insert(parts, h.id .. ':' .. string.format('%d', h.deadline))
    last = math.max(last, h.deadline)
  end
  return table.concat(parts, ','), math.max(1, last - now)
end

local function lease_acquire(raw, max, id, ttl)
  local seen, held = lease_read(raw)
  local now = math.max(now_ms, seen)
  local live = {}
  for _, h in ipairs(held) do
    if h.deadline > now and h.id ~= id then table.insert(live, h) end
  end
  if #live >= max then return nil, #live end
  table.insert(live, { id = id, deadline = now + ttl })
  return lease_write(now, live)
end

local function lease_release(raw, id)
  local seen, held = lease_read(raw)
  if not raw then return nil end
  local now = math.max(now_ms, seen)
  local rest = {}
  local found = false
  for _, h in ipairs(held) do
    if h.deadline > now then
      if h.id == id then found = true else table.insert(rest, h) end
    end
  end
  if not found then return nil end
  return lease_write(now, rest)
end
`,
};
