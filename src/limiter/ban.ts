/** @module limiter/ban — bans for repeat offenders: strikes per denial, escalating bans; the model and its Lua side by side. */
import { decodeState, type LuaAlgorithm } from "./algorithms/step.ts";
import type { BanEntry, BanSpec, Decision } from "./types.ts";

/** A new ban within this long of the last one's end escalates. */
export const BAN_MEMORY_MS = 86_400_000;

/** A subject's ban state, decoded (`"<strikes>:<windowStart>:<level>:<until>:<lastEnd>:<seen>"`). */
interface BanState {
  strikes: number;
  windowStart: number;
  level: number;
  until: number;
  lastEnd: number;
  seen: number;
}

function decode(raw: string | null | undefined): BanState | undefined {
  const f = decodeState(raw, 6);
  if (!f) return undefined;
  const [strikes, windowStart, level, until, lastEnd, seen] = f as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { strikes, windowStart, level, until, lastEnd, seen };
}

/**
 * The ban in force at `nowMs` (per-key time never runs backwards), if any.
 *
 * @example
 * banIn(raw, Date.now()); // { untilMs: 1780000600000, level: 1 } or undefined
 */
export function banIn(
  raw: string | null | undefined,
  nowMs: number,
): { untilMs: number; level: number } | undefined {
  const s = decode(raw);
  if (!s) return undefined;
  const now = Math.max(nowMs, s.seen);
  return s.until > now ? { untilMs: s.until, level: s.level } : undefined;
}

/**
 * One more strike for a denied request: the state to store, and the ban it
 * starts when the strikes reach `after` within `withinMs`. The ban lasts
 * `forMs`, times `escalate` per earlier ban ending within a day, at most
 * `maxMs`; all arithmetic in whole ms.
 *
 * @example
 * banStrike(null, now, { key, after: 1, withinMs: 60_000, forMs: 600_000, escalate: 2, maxMs: 3_600_000 }).started;
 * // { untilMs: now + 600000, level: 1 }
 */
export function banStrike(
  raw: string | null | undefined,
  nowMs: number,
  spec: BanSpec,
): { value: string; ttlMs: number; started?: { untilMs: number; level: number } } {
  const s = decode(raw) ?? { strikes: 0, windowStart: 0, level: 0, until: 0, lastEnd: 0, seen: 0 };
  const now = Math.max(nowMs, s.seen);
  let { strikes, windowStart, level, until, lastEnd } = s;
  if (strikes === 0 || now - windowStart >= spec.withinMs) {
    strikes = 0;
    windowStart = now;
  }
  strikes += 1;
  let started: { untilMs: number; level: number } | undefined;
  if (strikes >= spec.after) {
    level = lastEnd > 0 && now - lastEnd <= BAN_MEMORY_MS ? level + 1 : 1;
    let duration = spec.forMs;
    for (let i = 1; i < level && duration < spec.maxMs; i++) {
      duration = Math.floor(duration * spec.escalate);
    }
    until = now + Math.min(duration, spec.maxMs);
    lastEnd = until;
    strikes = 0;
    windowStart = now;
    started = { untilMs: until, level };
  }
  const lapse = Math.max(until, windowStart + spec.withinMs, lastEnd + BAN_MEMORY_MS);
  return {
    value: `${strikes}:${windowStart}:${level}:${until}:${lastEnd}:${now}`,
    ttlMs: Math.max(1, lapse - now),
    ...(started ? { started } : {}),
  };
}

/**
 * The same in Lua, for the decide script: `ban_in(raw)` → until, level (or
 * nil) and `ban_strike(raw, after, within, for, escalate, max)` → value, ttl,
 * started until (0 when none), level. Reads `now_ms`.
 */
export const banLua: Omit<LuaAlgorithm, "code"> = {
  source: `local function ban_read(raw)
  local f = {}
  if raw then
    local a, b, c, d, e, g = string.match(raw, '^(%d+):(%d+):(%d+):(%d+):(%d+):(%d+)$')
    if a then f = { tonumber(a), tonumber(b), tonumber(c), tonumber(d), tonumber(e), tonumber(g) } end
  end
  return f
end

local function ban_in(raw)
  local f = ban_read(raw)
  if not f[1] then return nil end
  local now = math.max(now_ms, f[6])
  if f[4] > now then return f[4], f[3] end
  return nil
end

local function ban_strike(raw, after, within, dur, escalate, max)
  local f = ban_read(raw)
  local strikes, start, level, untl, last_end, seen = 0, 0, 0, 0, 0, 0
  if f[1] then strikes, start, level, untl, last_end, seen = f[1], f[2], f[3], f[4], f[5], f[6] end
  local now = math.max(now_ms, seen)
  if strikes == 0 or now - start >= within then
    strikes = 0
    start = now
  end
  strikes = strikes + 1
  local started = 0
  if strikes >= after then
    if last_end > 0 and now - last_end <= ${BAN_MEMORY_MS} then level = level + 1 else level = 1 end
    local d = dur
    local i = 1
    while i < level and d < max do
      d = math.floor(d * escalate)
      i = i + 1
    end
    untl = now + math.min(d, max)
    last_end = untl
    strikes = 0
    start = now
    started = untl
  end
  local lapse = math.max(untl, start + within, last_end + ${BAN_MEMORY_MS})
  return string.format('%d:%d:%d:%d:%d:%d', strikes, start, level, untl, last_end, now), math.max(1, lapse - now), started, level
end
`,
};

/**
 * The decision for a banned subject: refused until the ban ends. A ban
 * already in force evaluates no limit (`limits` empty); one this request's
 * denial started keeps that denial's limits.
 *
 * @example
 * bannedDecision({ untilMs: now + 600_000, level: 1 }, now); // { allowed: false, retryAfterMs: 600000, … }
 */
export function bannedDecision(
  ban: { untilMs: number; level: number },
  nowMs: number,
  denial?: Decision,
): Decision {
  return {
    allowed: false,
    retryAfterMs: Math.max(denial?.retryAfterMs ?? 0, ban.untilMs - nowMs),
    limits: denial?.limits ?? [],
    banned: { untilMs: ban.untilMs, level: ban.level, started: denial !== undefined },
  };
}

/** Marks a ban state key: `<prefix>:<rule>:~ban:<subject>` (`~` cannot start a limit id). */
export const BAN_KEY_PART = ":~ban:";

/**
 * The bans in force among stored `[key, value]` pairs whose keys start with
 * `prefix` (the stores' `listBans`).
 *
 * @example
 * bansAmong([["sluice:login:~ban:ip:192.0.2.1", raw]], "sluice:", now);
 */
export function bansAmong(
  rows: Iterable<readonly [string, string | null | undefined]>,
  prefix: string,
  nowMs: number,
): BanEntry[] {
  const out: BanEntry[] = [];
  for (const [key, value] of rows) {
    if (!key.startsWith(prefix) || !key.includes(BAN_KEY_PART)) continue;
    const ban = banIn(value, nowMs);
    if (ban) out.push({ key, ...ban });
  }
  return out;
}
