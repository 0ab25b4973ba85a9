/** @module limiter/adaptive — one controller per rule scales its rates by the origin's health (AIMD with a dead band and a hold); the model and its Lua side by side. */
import { decodeState, type LuaAlgorithm, type StepLimit } from "./algorithms/step.ts";
import type { DecideRequest } from "./types.ts";

/** A factor of one: the rule's rates as written. Factors and shares are in parts per million. */
export const FULL_PPM = 1_000_000;

/** Counts in a window stop growing here, so `count × FULL_PPM` stays an exact integer. */
const MAX_COUNT = 1_000_000_000;

/**
 * How a rule's controller moves its factor; all integers (shares and factors
 * in ppm, times in ms). Constraints the policy checks: `1 ≤ minPpm ≤ 1e6`,
 * `0 < decreasePpm < 1e6`, `1 ≤ increasePpm ≤ 1e6`, `windowMs ≥ 1`,
 * `holdMs ≥ 0`, `errorLowPpm ≤ errorHighPpm ≤ 1e6`, `slowLowPpm ≤ slowHighPpm
 * ≤ 1e6`, `minRequests ≥ 1`, `maxPauseMs ≥ 0`, `latencyMs ≥ 0`.
 */
export interface AdaptiveConfig {
  /** The factor never goes below this. */
  minPpm: number;
  /** On overload the factor is multiplied by this, or by the share of requests the origin accepted when it turned more away. */
  decreasePpm: number;
  /** On a healthy window this much of the full rate is added back. */
  increasePpm: number;
  /** Reports are added up over at least this long before the window is judged. */
  windowMs: number;
  /** At least this long between two changes: after one, reports are ignored for `max(holdMs − windowMs, latencyMs)` (they describe the old rate). */
  holdMs: number;
  /** 5xx share above which the origin is overloaded, and below which it may be healthy; push-back (503/429) over the low share is overload. */
  errorHighPpm: number;
  errorLowPpm: number;
  /** Share of responses slower than `latencyMs` above which the origin is overloaded, and below which it may be healthy. */
  slowHighPpm: number;
  slowLowPpm: number;
  /** A window is judged only once it holds this many requests (a share of three says little). */
  minRequests: number;
  /** The longest pause an origin's `Retry-After` can impose. */
  maxPauseMs: number;
  /** A response slower than this counts as slow. Slow reports arrive up to this late, so the store lets this long pass after a change. */
  latencyMs: number;
}

/**
 * Defaults for `rules[].adaptive` (the policy's `{}`), tuned with
 * `bench/adaptive.ts`: down by 5 % on overload (by more when the origin
 * itself turns more away), 2 % of the full rate back per healthy step of
 * 1.5 s (from 40 % to full in under a minute), never below 10 %. Healthy:
 * under 1 % errors and 1 % slower than 1 s; overloaded: over 5 % errors,
 * over 20 % slow, or the origin pushing back on over 1 %. The dead band
 * between is wider than one step, so the factor comes to rest in it.
 */
export const defaultAdaptiveConfig: Readonly<AdaptiveConfig> = Object.freeze({
  minPpm: 100_000,
  decreasePpm: 950_000,
  increasePpm: 20_000,
  windowMs: 500,
  holdMs: 1500,
  errorHighPpm: 50_000,
  errorLowPpm: 10_000,
  slowHighPpm: 200_000,
  slowLowPpm: 10_000,
  minRequests: 20,
  maxPauseMs: 300_000,
  latencyMs: 1000,
});

/**
 * What one isolate saw of the origin since its last report: responses,
 * those with a 5xx status, those slower than `latencyMs`, the origin's own
 * 503/429 answers, and the longest `Retry-After` it sent with a 503 (ms, 0
 * when none). Non-negative integers. A request still in flight at
 * `latencyMs` is reported then (a request, slow), not when it ends: news of
 * overload that waits for the slowest responses comes too late to act on.
 */
export interface HealthReport {
  requests: number;
  errors: number;
  slow: number;
  overloaded: number;
  pauseMs: number;
}

/** A report of nothing: the factor is read, nothing is added. */
export const EMPTY_REPORT: Readonly<HealthReport> = Object.freeze({
  requests: 0,
  errors: 0,
  slow: 0,
  overloaded: 0,
  pauseMs: 0,
});

/** What `adaptiveStep` returns: the state to store and its lifetime, the factor in force, and the pause (0 when none). */
export interface AdaptiveResult {
  value: string;
  ttlMs: number;
  factorPpm: number;
  pauseUntilMs: number;
}

/**
 * A rule's controller state, decoded
 * (`"<factor>:<windowStart>:<requests>:<errors>:<slow>:<overloaded>:<pauseUntil>:<changedAt>:<seen>"`).
 * `windowStart` may lie ahead: reports before it are ignored (settling after
 * a change, or a pause). `changedAt` 0: never changed.
 */
interface AdaptiveState {
  factor: number;
  windowStart: number;
  requests: number;
  errors: number;
  slow: number;
  overloaded: number;
  pauseUntil: number;
  changedAt: number;
  seen: number;
}

/**
 * Idle this long, the factor would have climbed back to full had the origin
 * been healthy (and a window in progress been judged), so the state lapses:
 * a lapsed state and no state read alike.
 */
function lapseMs(factor: number, c: AdaptiveConfig): number {
  const step = Math.max(c.holdMs, c.windowMs + c.latencyMs);
  return step * (2 + Math.ceil((FULL_PPM - factor) / c.increasePpm));
}

function read(
  raw: string | null | undefined,
  nowMs: number,
  c: AdaptiveConfig,
): AdaptiveState | undefined {
  const f = decodeState(raw, 9);
  if (!f || (f[0] as number) > FULL_PPM) return undefined;
  const [factor, windowStart, requests, errors, slow, overloaded, pauseUntil, changedAt, seen] =
    f as [number, number, number, number, number, number, number, number, number];
  const s = {
    factor: Math.max(c.minPpm, factor),
    ...{ windowStart, requests, errors, slow, overloaded, pauseUntil, changedAt, seen },
  };
  const now = Math.max(nowMs, seen);
  return now >= Math.max(seen, pauseUntil) + lapseMs(s.factor, c) ? undefined : s;
}

/**
 * The factor and pause in force at `nowMs`, writing nothing (a peek): full
 * and none when there is no state, or it lapsed.
 *
 * @example
 * adaptiveIn(raw, Date.now(), defaultAdaptiveConfig); // { factorPpm: 380000, pauseUntilMs: 0 }
 */
export function adaptiveIn(
  raw: string | null | undefined,
  nowMs: number,
  config: AdaptiveConfig,
): { factorPpm: number; pauseUntilMs: number } {
  const s = read(raw, nowMs, config);
  if (!s) return { factorPpm: FULL_PPM, pauseUntilMs: 0 };
  const now = Math.max(nowMs, s.seen);
  return { factorPpm: s.factor, pauseUntilMs: s.pauseUntil > now ? s.pauseUntil : 0 };
}

/** -1 overloaded, 1 healthy, 0 the dead band between. */
function verdict(s: AdaptiveState, c: AdaptiveConfig): number {
  const n = s.requests;
  if (
    s.errors * FULL_PPM > c.errorHighPpm * n ||
    s.slow * FULL_PPM > c.slowHighPpm * n ||
    s.overloaded * FULL_PPM > c.errorLowPpm * n
  ) {
    return -1;
  }
  if (s.errors * FULL_PPM < c.errorLowPpm * n && s.slow * FULL_PPM < c.slowLowPpm * n) {
    return s.overloaded === 0 ? 1 : 0;
  }
  return 0;
}

/**
 * The factor times `decreasePpm`, or times the share of requests the origin
 * accepted when it pushed back more than that (it told us what it can take).
 */
function decreased(factor: number, c: AdaptiveConfig, requests = 0, overloaded = 0): number {
  let next = Math.floor((factor * c.decreasePpm) / FULL_PPM);
  if (requests > 0)
    next = Math.min(next, Math.floor((factor * (requests - overloaded)) / requests));
  return Math.max(c.minPpm, next);
}

/**
 * Adds one isolate's report to the rule's controller and moves the factor
 * when a window is due: multiplicative decrease on overload, additive
 * increase when healthy, nothing in the dead band, at most one change per
 * `holdMs`, within `[minPpm, 1e6]`. A 503 with `Retry-After` pauses the
 * route (at most `maxPauseMs`) and decreases; reports during a pause are
 * ignored. Per-key time never runs backwards; integers only.
 *
 * @example
 * const r = adaptiveStep(null, now, defaultAdaptiveConfig, { requests: 0, errors: 0, slow: 0, overloaded: 1, pauseMs: 5000 });
 * // r.factorPpm === 950000, r.pauseUntilMs === now + 5000
 */
export function adaptiveStep(
  raw: string | null | undefined,
  nowMs: number,
  config: AdaptiveConfig,
  report: HealthReport,
): AdaptiveResult {
  const c = config;
  const s = read(raw, nowMs, c) ?? {
    factor: FULL_PPM,
    ...{ windowStart: nowMs, requests: 0, errors: 0, slow: 0, overloaded: 0 },
    ...{ pauseUntil: 0, changedAt: 0, seen: nowMs },
  };
  const now = Math.max(nowMs, s.seen);
  const settle = Math.max(c.holdMs - c.windowMs, c.latencyMs);
  const canChange = s.changedAt === 0 || now - s.changedAt >= c.holdMs;
  const pauseMs = Math.min(report.pauseMs, c.maxPauseMs);
  const reset = () => {
    s.requests = 0;
    s.errors = 0;
    s.slow = 0;
    s.overloaded = 0;
  };
  const change = (factor: number, windowStart: number) => {
    if (canChange && factor !== s.factor) {
      s.factor = factor;
      s.changedAt = now;
      s.windowStart = Math.max(windowStart, now + settle);
    } else {
      s.windowStart = windowStart;
    }
  };
  if (pauseMs > 0 && now + pauseMs > s.pauseUntil) {
    // The origin asked to be left alone: stop for that long, come back slower.
    const starts = s.pauseUntil <= now;
    s.pauseUntil = now + pauseMs;
    reset();
    change(starts ? decreased(s.factor, c) : s.factor, Math.max(s.windowStart, s.pauseUntil));
  } else if (now >= s.windowStart) {
    s.requests = Math.min(MAX_COUNT, s.requests + report.requests);
    s.errors = Math.min(MAX_COUNT, s.errors + report.errors);
    s.slow = Math.min(MAX_COUNT, s.slow + report.slow);
    s.overloaded = Math.min(MAX_COUNT, s.overloaded + report.overloaded);
    if (now - s.windowStart >= c.windowMs && s.requests >= c.minRequests) {
      const v = verdict(s, c);
      const down = decreased(s.factor, c, s.requests, s.overloaded);
      const up = Math.min(FULL_PPM, s.factor + c.increasePpm);
      reset();
      change(v < 0 ? down : v > 0 ? up : s.factor, now);
    }
  }
  const value = [
    s.factor,
    s.windowStart,
    s.requests,
    s.errors,
    s.slow,
    s.overloaded,
    s.pauseUntil,
    s.changedAt,
    now,
  ].join(":");
  return {
    value,
    ttlMs: Math.max(now, s.pauseUntil) + lapseMs(s.factor, c) - now,
    factorPpm: s.factor,
    pauseUntilMs: s.pauseUntil > now ? s.pauseUntil : 0,
  };
}

/** `floor(n × factor / 1e6)` exactly, for any safe integer `n` (the product alone could pass 2^53). */
function scaled(n: number, factorPpm: number): number {
  const r = n % FULL_PPM;
  return ((n - r) / FULL_PPM) * factorPpm + Math.floor((r * factorPpm) / FULL_PPM);
}

/**
 * A limit with its count and burst scaled by the factor, rounded down, but
 * never below the request's cost (so a request stays admissible, and a
 * window's count still equals its burst). The period is kept.
 *
 * @example
 * scaleLimit({ count: 1000, periodMs: 1000, burst: 1000, cost: 1 }, 400_000);
 * // { count: 400, periodMs: 1000, burst: 400, cost: 1 }
 */
export function scaleLimit<L extends StepLimit>(limit: L, factorPpm: number): L {
  if (factorPpm >= FULL_PPM) return limit;
  return {
    ...limit,
    count: Math.max(limit.cost, scaled(limit.count, factorPpm)),
    burst: Math.max(limit.cost, scaled(limit.burst, factorPpm)),
  };
}

/**
 * The smallest count a limit takes under a controller at `minPpm`: the
 * `floorCount` its token bucket's key lives by. Scaling never goes below the
 * cost (`scaleLimit`), which can be above an unscaled count, so the limit's
 * own count bounds it too.
 *
 * @example
 * floorCount({ count: 16, cost: 1 }, 100_000); // 1
 * floorCount({ count: 1, cost: 5 }, 100_000); // 1
 */
export function floorCount(limit: Pick<StepLimit, "count" | "cost">, minPpm: number): number {
  return Math.min(limit.count, Math.max(limit.cost, scaled(limit.count, minPpm)));
}

/** The request with every check scaled by the factor, its controller's report already sent. */
export function scaledRequest(req: DecideRequest, factorPpm: number): DecideRequest {
  const { adaptive: _, ...rest } = req;
  return { ...rest, checks: req.checks.map((c) => scaleLimit(c, factorPpm)) };
}

/**
 * The config in the order `adaptive_step` takes it (its table `c`).
 *
 * @example
 * adaptiveArgs(defaultAdaptiveConfig); // [100000, 850000, 20000, 1000, 1500, 50000, 10000, 100000, 10000, 20, 300000]
 */
export function adaptiveArgs(c: AdaptiveConfig): number[] {
  return [
    c.minPpm,
    c.decreasePpm,
    c.increasePpm,
    c.windowMs,
    c.holdMs,
    c.errorHighPpm,
    c.errorLowPpm,
    c.slowHighPpm,
    c.slowLowPpm,
    c.minRequests,
    c.maxPauseMs,
    c.latencyMs,
  ];
}

/**
 * A report in the order `adaptive_step` takes it (its table `r`).
 *
 * @example
 * reportArgs({ requests: 120, errors: 2, slow: 5, overloaded: 0, pauseMs: 0 }); // [120, 2, 5, 0, 0]
 */
export function reportArgs(r: HealthReport): number[] {
  return [r.requests, r.errors, r.slow, r.overloaded, r.pauseMs];
}

/**
 * The same in Lua, for the decide script: `adaptive_step(raw, c, r)` → value,
 * ttl, factor, pause_until (0 when none), with `c` from `adaptiveArgs` and `r`
 * from `reportArgs` as Lua arrays of numbers; `adaptive_in(raw, c)` → factor,
 * pause_until (for peeks); and `adaptive_scale(count, burst, cost, factor)`
 * → count, burst. Reads `now_ms`.
 */
export const adaptiveLua: Omit<LuaAlgorithm, "code"> = {
  source: `local function adaptive_lapse(factor, c)
  return math.max(c[5], c[4] + c[12]) * (2 + math.ceil((${FULL_PPM} - factor) / c[3]))
end

local function adaptive_read(raw, c)
  if not raw then return nil end
  local s = { string.match(raw, '^(%d+):(%d+):(%d+):(%d+):(%d+):(%d+):(%d+):(%d+):(%d+)$') }
  if not s[1] then return nil end
  for i = 1, 9 do
    s[i] = tonumber(s[i])
    if s[i] > 9007199254740991 then return nil end
  end
  if s[1] > ${FULL_PPM} then return nil end
  s[1] = math.max(c[1], s[1])
  local now = math.max(now_ms, s[9])
  if now >= math.max(s[9], s[7]) + adaptive_lapse(s[1], c) then return nil end
  return s
end

local function adaptive_in(raw, c)
  local s = adaptive_read(raw, c)
  if not s then return ${FULL_PPM}, 0 end
  if s[7] > math.max(now_ms, s[9]) then return s[1], s[7] end
  return s[1], 0
end

local function adaptive_decreased(factor, c, req, over)
  local to = math.floor(factor * c[2] / ${FULL_PPM})
  if req > 0 then to = math.min(to, math.floor(factor * (req - over) / req)) end
  return math.max(c[1], to)
end

local function adaptive_verdict(req, err, slow, over, c)
  if err * ${FULL_PPM} > c[6] * req or slow * ${FULL_PPM} > c[8] * req or over * ${FULL_PPM} > c[7] * req then
    return -1
  end
  if err * ${FULL_PPM} < c[7] * req and slow * ${FULL_PPM} < c[9] * req then
    if over == 0 then return 1 end
  end
  return 0
end

local function adaptive_step(raw, c, r)
  local s = adaptive_read(raw, c) or { ${FULL_PPM}, now_ms, 0, 0, 0, 0, 0, 0, now_ms }
  local factor, start, req, err, slow, over, pause, changed = s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]
  local now = math.max(now_ms, s[9])
  local settle = math.max(c[5] - c[4], c[12])
  local can_change = changed == 0 or now - changed >= c[5]
  local pause_ms = math.min(r[5], c[11])
  local function change(to, from)
    if can_change and to ~= factor then
      factor = to
      changed = now
      start = math.max(from, now + settle)
    else
      start = from
    end
  end
  if pause_ms > 0 and now + pause_ms > pause then
    local starts = pause <= now
    pause = now + pause_ms
    req, err, slow, over = 0, 0, 0, 0
    if starts then change(adaptive_decreased(factor, c, 0, 0), math.max(start, pause)) else change(factor, math.max(start, pause)) end
  elseif now >= start then
    req = math.min(${MAX_COUNT}, req + r[1])
    err = math.min(${MAX_COUNT}, err + r[2])
    slow = math.min(${MAX_COUNT}, slow + r[3])
    over = math.min(${MAX_COUNT}, over + r[4])
    if now - start >= c[4] and req >= c[10] then
      local v = adaptive_verdict(req, err, slow, over, c)
      local to = factor
      if v < 0 then to = adaptive_decreased(factor, c, req, over) elseif v > 0 then to = math.min(${FULL_PPM}, factor + c[3]) end
      req, err, slow, over = 0, 0, 0, 0
      change(to, now)
    end
  end
  local value = string.format('%d:%d:%d:%d:%d:%d:%d:%d:%d', factor, start, req, err, slow, over, pause, changed, now)
  local until_ms = 0
  if pause > now then until_ms = pause end
  return value, math.max(now, pause) + adaptive_lapse(factor, c) - now, factor, until_ms
end

local function adaptive_scaled(n, factor)
  local r = math.fmod(n, ${FULL_PPM})
  return (n - r) / ${FULL_PPM} * factor + math.floor(r * factor / ${FULL_PPM})
end

local function adaptive_scale(count, burst, cost, factor)
  if factor >= ${FULL_PPM} then return count, burst end
  return math.max(cost, adaptive_scaled(count, factor)), math.max(cost, adaptive_scaled(burst, factor))
end
`,
};
