/** @module test/node/limiter/adaptive-lua — the adaptive controller's Lua agrees with its model, on a real redis-server. */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AdaptiveConfig,
  adaptiveArgs,
  adaptiveIn,
  adaptiveLua,
  adaptiveStep,
  FULL_PPM,
  type HealthReport,
  reportArgs,
  scaleLimit,
} from "../../../src/limiter/adaptive.ts";
import { type RedisHandle, RespConnection, RespError, startRedis } from "../../../tools/redis.ts";

/**
 * Calls the fragment as the decide script would. ARGV: now_ms, has_raw, raw,
 * the config (12), the report (5), then count, burst, cost to scale by the
 * new factor. Returns step's four results, adaptive_in's two, scale's two.
 */
const WRAPPER = `local now_ms = tonumber(ARGV[1])
${adaptiveLua.source}
local raw = nil
if ARGV[2] == '1' then raw = ARGV[3] end
local c, r = {}, {}
for i = 1, 12 do c[i] = tonumber(ARGV[3 + i]) end
for i = 1, 5 do r[i] = tonumber(ARGV[15 + i]) end
local in_factor, in_pause = adaptive_in(raw, c)
local value, ttl, factor, pause = adaptive_step(raw, c, r)
local count, burst = adaptive_scale(tonumber(ARGV[21]), tonumber(ARGV[22]), tonumber(ARGV[23]), factor)
return { value, ttl, factor, pause, in_factor, in_pause, count, burst }
`;

const T = 1_780_000_000_000;

let redis: RedisHandle;
let conn: RespConnection;
let sha: string;

beforeAll(async () => {
  redis = await startRedis();
  conn = await RespConnection.connect(redis.port);
  sha = String(await conn.send("SCRIPT", "LOAD", WRAPPER));
});

afterAll(async () => {
  conn?.close();
  await redis?.stop();
});

interface Call {
  raw: string | null;
  now: number;
  config: AdaptiveConfig;
  report: HealthReport;
  limit: { count: number; burst: number; cost: number };
}

async function lua(call: Call): Promise<unknown[]> {
  const { raw, now, config, report, limit } = call;
  const argv = [
    now,
    raw === null ? 0 : 1,
    raw ?? "",
    ...adaptiveArgs(config),
    ...reportArgs(report),
  ];
  argv.push(limit.count, limit.burst, limit.cost);
  const reply = await conn.send("EVALSHA", sha, "0", ...argv.map(String));
  if (reply instanceof RespError) throw reply;
  return (reply as unknown[]).map((v) => (Buffer.isBuffer(v) ? v.toString("utf8") : v));
}

function model(call: Call): unknown[] {
  const { raw, now, config, report, limit } = call;
  const peek = adaptiveIn(raw, now, config);
  const r = adaptiveStep(raw, now, config, report);
  const scaled = scaleLimit({ ...limit, periodMs: 1000 }, r.factorPpm);
  return [r.value, r.ttlMs, r.factorPpm, r.pauseUntilMs, peek.factorPpm, peek.pauseUntilMs].concat([
    scaled.count,
    scaled.burst,
  ]);
}

const configArb = fc
  .record({
    minPpm: fc.integer({ min: 1, max: FULL_PPM }),
    decreasePpm: fc.integer({ min: 1, max: FULL_PPM - 1 }),
    increasePpm: fc.integer({ min: 1, max: FULL_PPM }),
    windowMs: fc.integer({ min: 1, max: 2000 }),
    holdMs: fc.integer({ min: 0, max: 3000 }),
    errorA: fc.integer({ min: 0, max: FULL_PPM }),
    errorB: fc.integer({ min: 0, max: FULL_PPM }),
    slowA: fc.integer({ min: 0, max: FULL_PPM }),
    slowB: fc.integer({ min: 0, max: FULL_PPM }),
    minRequests: fc.integer({ min: 1, max: 30 }),
    maxPauseMs: fc.integer({ min: 0, max: 10_000 }),
    latencyMs: fc.integer({ min: 0, max: 1500 }),
  })
  .map(({ errorA, errorB, slowA, slowB, ...c }) => ({
    ...c,
    errorLowPpm: Math.min(errorA, errorB),
    errorHighPpm: Math.max(errorA, errorB),
    slowLowPpm: Math.min(slowA, slowB),
    slowHighPpm: Math.max(slowA, slowB),
  }));

const offset = fc.integer({ min: -5000, max: 5000 });

const eventArb = fc.record({
  // Mostly short steps so windows fill and close; some long ones so states lapse; some backwards.
  stepMs: fc.oneof(
    fc.integer({ min: 0, max: 300 }),
    fc.integer({ min: 0, max: 5000 }),
    fc.integer({ min: -2000, max: 0 }),
  ),
  requests: fc.integer({ min: 0, max: 60 }),
  errors: fc.integer({ min: 0, max: 60 }),
  slow: fc.integer({ min: 0, max: 60 }),
  overloaded: fc.integer({ min: 0, max: 60 }),
  pauseMs: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 20_000 })),
  // Now and then the stored state is replaced by something malformed or hand-made.
  corrupt: fc.option(
    fc.oneof(
      fc.string(),
      // Fields around the trace's start, so hand-made states are live as often as not.
      fc
        .tuple(
          fc.integer({ min: 0, max: 1_100_000 }),
          fc.tuple(offset, offset, offset, offset),
          fc.array(fc.nat({ max: 100 }), { minLength: 4, maxLength: 4 }),
        )
        .map(([factor, [start, pause, changed, seen], counts]) =>
          [
            factor,
            T + start,
            ...counts,
            Math.max(0, T + pause),
            Math.max(0, T + changed),
            T + seen,
          ].join(":"),
        ),
    ),
    { freq: 8 },
  ),
  limit: fc.record({
    count: fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.constant(Number.MAX_SAFE_INTEGER)),
    burst: fc.integer({ min: 1, max: 5000 }),
    cost: fc.integer({ min: 1, max: 5 }),
  }),
});

describe("adaptive Lua agrees with the model", () => {
  it("on every value, ttl, factor, pause, peek and scaled limit of random traces", async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(eventArb, { minLength: 1, maxLength: 40 }),
        async (config, events) => {
          let raw: string | null = null;
          let now = T;
          for (const e of events) {
            now += e.stepMs;
            if (e.corrupt !== null) raw = e.corrupt;
            const { requests, errors, slow, overloaded, pauseMs } = e;
            const call: Call = {
              raw,
              now,
              config,
              report: { requests, errors, slow, overloaded, pauseMs },
              limit: { ...e.limit, burst: Math.max(e.limit.burst, e.limit.cost) },
            };
            const want = model(call);
            expect(await lua(call)).toEqual(want);
            raw = want[0] as string;
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
