import { createHash, randomBytes } from "node:crypto";
import { Redis } from "@upstash/redis";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultAdaptiveConfig, floorCount } from "../../../src/limiter/adaptive.ts";
import { evaluate, refundWrites, type Write } from "../../../src/limiter/model.ts";
import type { LimitCheck } from "../../../src/limiter/types.ts";
import type { Algorithm } from "../../../src/policy/types.ts";
import { MemoryStore } from "../../../src/stores/memory/limit-store.ts";
import { RedisStore } from "../../../src/stores/redis/limit-store.ts";
import { SCRIPTS } from "../../../src/stores/redis/scripts.ts";
import { type RedisHandle, redisCommand, startRedis } from "../../../tools/redis.ts";
import { startUpstashRest, type UpstashRestHandle } from "../../../tools/upstash-rest.ts";

let redis: RedisHandle;
let rest: UpstashRestHandle;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  rest = await startUpstashRest({ redisPort: redis.port, token: randomBytes(8).toString("hex") });
  client = new Redis({ url: rest.url, token: rest.token, retry: false, enableTelemetry: false });
});

afterAll(async () => {
  await rest?.close();
  await redis?.stop();
});

/**
 * A property whose failure must happen twice, each run on fresh keys. The
 * script and the model decide alike from the caller's time alone; only
 * expiry is Redis's own, on its own clock, which can run ahead of the
 * trace's by a round trip's jitter between two sends, so a key of a few
 * milliseconds may lapse in Redis a moment before it does in the model. A
 * real disagreement repeats on the same trace; such a race does not.
 * Expiry itself is held to the model by the state-hygiene tests below.
 */
function reproducible<T>(body: (trace: T) => Promise<void>): (trace: T) => Promise<void> {
  return async (trace) => {
    try {
      await body(trace);
    } catch {
      await body(trace);
    }
  };
}

describe("script registry", () => {
  it("pins the SHA-1 of every script's exact text", () => {
    for (const { text, sha1 } of Object.values(SCRIPTS)) {
      expect(createHash("sha1").update(text).digest("hex")).toBe(sha1);
    }
  });

  it("loads every script into Redis under its pinned SHA-1", async () => {
    for (const { text, sha1 } of Object.values(SCRIPTS)) {
      expect(await client.scriptLoad(text)).toBe(sha1);
    }
  });
});

/** Limits for traces: small counts and periods so traces cross refills and windows. */
const limitArb = fc.record({
  algorithm: fc.constantFrom<Algorithm>(
    "gcra",
    "token-bucket",
    "fixed-window",
    "sliding-window",
    "sliding-log",
  ),
  count: fc.integer({ min: 1, max: 6 }),
  periodMs: fc.integer({ min: 50, max: 3000 }),
  extraBurst: fc.integer({ min: 0, max: 4 }),
});

/** Algorithms whose burst may differ from the count (the windows admit exactly their count). */
const HAS_BURST = new Set<Algorithm>(["gcra", "token-bucket"]);

const traceArb = fc.record({
  limits: fc.array(limitArb, { minLength: 1, maxLength: 3 }),
  countRejected: fc.boolean(),
  events: fc.array(
    fc.record({
      // Mostly short steps so subjects run out and get denied; some long
      // ones so windows close, buckets refill and logs age out.
      stepMs: fc.oneof(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 1500 }),
      ),
      subject: fc.integer({ min: 0, max: 1 }),
      cost: fc.integer({ min: 1, max: 3 }),
      // "retry" repeats the last denied request exactly at its Retry-After
      // time, where the boundary arithmetic (≤ vs <, rounding) decides.
      op: fc.constantFrom("decide", "decide", "decide", "peek", "refund", "retry"),
    }),
    { minLength: 1, maxLength: 40 },
  ),
});

describe("Redis store agrees with the reference model", () => {
  it("on every decision, remaining, reset and retry time of random traces (with peeks and refunds)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        traceArb,
        reproducible(async (trace) => {
          run += 1;
          const store = new RedisStore(client, { timeoutMs: 2000 });
          const model = new Map<string, string>();
          // Caller time = real time + an offset that only grows, so Redis's
          // real-time expiry never drops state the model still holds.
          let offset = 0;
          let denied:
            | { now: number; retryAfterMs: number; subject: number; cost: number }
            | undefined;
          for (const event of trace.events) {
            const real = Date.now();
            offset += event.stepMs;
            let { subject, cost } = event;
            if (event.op === "retry" && denied) {
              offset = Math.max(offset, denied.now + denied.retryAfterMs - real);
              ({ subject, cost } = denied);
            }
            const now = real + offset;
            const checks: LimitCheck[] = trace.limits.map((l, i) => {
              const burst = HAS_BURST.has(l.algorithm) ? l.count + l.extraBurst : l.count;
              return {
                id: `l${i}`,
                key: `oracle:${run}:l${i}:s${subject}`,
                algorithm: l.algorithm,
                count: l.count,
                periodMs: l.periodMs,
                burst,
                // Validation rejects a cost above the burst.
                cost: Math.min(cost, burst),
              };
            });
            const states = checks.map((c) => model.get(c.key));
            const req = { rule: "oracle", checks, nowMs: now, countRejected: trace.countRejected };
            let writes: Write[];
            if (event.op === "refund") {
              await store.refund(req);
              writes = refundWrites(checks, states, now);
            } else {
              const peek = event.op === "peek";
              const expected = evaluate(checks, states, now, trace.countRejected, peek);
              const actual = await (peek ? store.peek(req) : store.decide(req));
              expect(actual).toEqual(expected.decision);
              if (peek) expect(expected.writes).toEqual([]);
              writes = expected.writes;
              if (!actual.allowed && !peek) {
                denied = { now, retryAfterMs: actual.retryAfterMs, subject, cost };
              }
            }
            for (const w of writes) model.set(w.key, w.value);
            await expectStored(writes);
          }
        }),
      ),
      { numRuns: 60 },
    );
  });
});

/** Events of one trace sent concurrently in bursts: group commit batches them. */
const burstsArb = fc.record({
  limits: fc.array(limitArb, { minLength: 1, maxLength: 3 }),
  countRejected: fc.boolean(),
  bursts: fc.array(
    fc.array(
      fc.record({
        stepMs: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 700 })),
        subject: fc.integer({ min: 0, max: 2 }),
        cost: fc.integer({ min: 1, max: 3 }),
        op: fc.constantFrom("decide", "decide", "decide", "peek", "refund"),
      }),
      { minLength: 1, maxLength: 12 },
    ),
    { minLength: 1, maxLength: 8 },
  ),
});

describe("batched decisions agree with the same decisions one at a time", () => {
  it("on random traces sent in concurrent bursts (one script call carries many)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        burstsArb,
        reproducible(async (trace) => {
          run += 1;
          // One call at a time, whatever this machine's round trips: the bursts must batch.
          const store = new RedisStore(client, {
            timeoutMs: 2000,
            groupCommit: { maxInFlight: 1 },
          });
          const model = new Map<string, string>();
          let offset = 0;
          for (const burst of trace.bursts) {
            const real = Date.now();
            const sent = burst.map((event) => {
              offset += event.stepMs;
              const now = real + offset;
              const checks: LimitCheck[] = trace.limits.map((l, i) => {
                const burstSize = HAS_BURST.has(l.algorithm) ? l.count + l.extraBurst : l.count;
                return {
                  id: `l${i}`,
                  key: `batch:${run}:l${i}:s${event.subject}`,
                  algorithm: l.algorithm,
                  count: l.count,
                  periodMs: l.periodMs,
                  burst: burstSize,
                  cost: Math.min(event.cost, burstSize),
                };
              });
              const req = {
                rule: "oracle",
                checks,
                nowMs: now,
                countRejected: trace.countRejected,
              };
              // The model decides them one at a time, in the order they are sent.
              const states = checks.map((c) => model.get(c.key));
              let expected: unknown;
              let writes: Write[];
              if (event.op === "refund") {
                writes = refundWrites(checks, states, now);
                expected = undefined;
              } else {
                const e = evaluate(checks, states, now, trace.countRejected, event.op === "peek");
                writes = e.writes;
                expected = e.decision;
              }
              for (const w of writes) model.set(w.key, w.value);
              const actual =
                event.op === "refund"
                  ? store.refund(req)
                  : event.op === "peek"
                    ? store.peek(req)
                    : store.decide(req);
              return { actual, expected };
            });
            const answers = await Promise.all(sent.map((s) => s.actual));
            expect(answers).toEqual(sent.map((s) => s.expected));
          }
          // Bursts were really carried by fewer calls than decisions.
          const decisions = trace.bursts.reduce((n, b) => n + b.length, 0);
          if (trace.bursts.some((b) => b.length > 2)) expect(store.calls).toBeLessThan(decisions);
        }),
      ),
      { numRuns: 60 },
    );
  });
});

const banTraceArb = fc.record({
  limit: limitArb,
  countRejected: fc.boolean(),
  ban: fc.record({
    after: fc.integer({ min: 1, max: 4 }),
    withinMs: fc.integer({ min: 50, max: 2000 }),
    forMs: fc.integer({ min: 50, max: 1500 }),
    escalate: fc.constantFrom(1, 1.5, 2, 3),
    extraMax: fc.integer({ min: 0, max: 4000 }),
  }),
  bursts: fc.array(
    fc.array(
      fc.record({
        stepMs: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 900 })),
        subject: fc.integer({ min: 0, max: 1 }),
      }),
      { minLength: 1, maxLength: 8 },
    ),
    { minLength: 1, maxLength: 10 },
  ),
});

describe("bans decided by the script agree with the reference engine", () => {
  it("on random traces of denials, strikes, bans and escalation, sent in bursts", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        banTraceArb,
        reproducible(async (trace) => {
          run += 1;
          const redisStore = new RedisStore(client, { timeoutMs: 2000 });
          const model = new MemoryStore();
          const { limit, ban } = trace;
          let offset = 0;
          for (const burst of trace.bursts) {
            const real = Date.now();
            const reqs = burst.map((event) => {
              offset += event.stepMs;
              const check: LimitCheck = {
                id: "l0",
                key: `ban:${run}:l0:s${event.subject}`,
                algorithm: limit.algorithm,
                count: limit.count,
                periodMs: limit.periodMs,
                burst: limit.count,
                cost: 1,
              };
              return {
                rule: "oracle",
                checks: [check],
                nowMs: real + offset,
                countRejected: trace.countRejected,
                ban: {
                  key: `ban:${run}:~ban:s${event.subject}`,
                  after: ban.after,
                  withinMs: ban.withinMs,
                  forMs: ban.forMs,
                  escalate: ban.escalate,
                  maxMs: ban.forMs + ban.extraMax,
                },
              };
            });
            // The reference decides one at a time, in the order they are sent.
            const expected = [];
            for (const req of reqs) expected.push(await model.decide(req));
            expect(await Promise.all(reqs.map((r) => redisStore.decide(r)))).toEqual(expected);
          }
        }),
      ),
      { numRuns: 60 },
    );
  });
});

const delayTraceArb = fc.record({
  limits: fc.array(
    fc.record({
      algorithm: fc.constantFrom<Algorithm>("gcra", "token-bucket"),
      count: fc.integer({ min: 1, max: 6 }),
      periodMs: fc.integer({ min: 50, max: 3000 }),
      extraBurst: fc.integer({ min: 0, max: 4 }),
    }),
    { minLength: 1, maxLength: 2 },
  ),
  maxDelayMs: fc.integer({ min: 1, max: 3000 }),
  bursts: fc.array(
    fc.array(
      fc.record({
        stepMs: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 900 })),
        subject: fc.integer({ min: 0, max: 1 }),
        cost: fc.integer({ min: 1, max: 3 }),
        refund: fc.boolean(),
      }),
      { minLength: 1, maxLength: 10 },
    ),
    { minLength: 1, maxLength: 8 },
  ),
});

describe("delayed decisions by the script agree with the reference engine", () => {
  it("on random traces of reservations, delays and refunds, sent in bursts", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        delayTraceArb,
        reproducible(async (trace) => {
          run += 1;
          const redisStore = new RedisStore(client, { timeoutMs: 2000 });
          const model = new MemoryStore();
          let offset = 0;
          for (const burst of trace.bursts) {
            const real = Date.now();
            const reqs = burst.map((event) => {
              offset += event.stepMs;
              const checks: LimitCheck[] = trace.limits.map((l, i) => {
                const burstSize = l.count + l.extraBurst;
                return {
                  id: `l${i}`,
                  key: `delay:${run}:l${i}:s${event.subject}`,
                  algorithm: l.algorithm,
                  count: l.count,
                  periodMs: l.periodMs,
                  burst: burstSize,
                  cost: Math.min(event.cost, burstSize),
                };
              });
              const req = { rule: "oracle", checks, nowMs: real + offset, countRejected: false };
              return { req: { ...req, maxDelayMs: trace.maxDelayMs }, refund: event.refund };
            });
            const expected = [];
            for (const { req, refund } of reqs) {
              expected.push(refund ? await model.refund(req) : await model.decide(req));
            }
            const actual = await Promise.all(
              reqs.map(({ req, refund }) =>
                refund ? redisStore.refund(req) : redisStore.decide(req),
              ),
            );
            expect(actual).toEqual(expected);
          }
        }),
      ),
      { numRuns: 60 },
    );
  });
});

describe("leases decided by the script agree with the reference engine", () => {
  it("on random traces of decisions taking leases and releases, sent in bursts", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          max: fc.integer({ min: 1, max: 4 }),
          ttlMs: fc.integer({ min: 50, max: 2000 }),
          count: fc.integer({ min: 1, max: 8 }),
          bursts: fc.array(
            fc.array(
              fc.record({
                stepMs: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 900 })),
                release: fc.integer({ min: 0, max: 3 }),
              }),
              { minLength: 1, maxLength: 8 },
            ),
            { minLength: 1, maxLength: 8 },
          ),
        }),
        reproducible(async (trace) => {
          run += 1;
          const redisStore = new RedisStore(client, { timeoutMs: 2000 });
          const model = new MemoryStore();
          const key = `lease:${run}:~lease:s`;
          const held: string[] = [];
          let offset = 0;
          let n = 0;
          for (const burst of trace.bursts) {
            const real = Date.now();
            const ops = burst.map((event) => {
              offset += event.stepMs;
              const nowMs = real + offset;
              n += 1;
              // Some events give back the oldest lease this trace holds instead.
              const id = event.release === 0 ? held.shift() : undefined;
              if (id !== undefined) return { release: { rule: "oracle", key, id, nowMs } };
              const check: LimitCheck = {
                id: "l",
                key: `lease:${run}:l:s`,
                algorithm: "gcra",
                count: trace.count,
                periodMs: 1000,
                burst: trace.count,
                cost: 1,
              };
              const lease = { key, max: trace.max, id: `r${n}`, ttlMs: trace.ttlMs };
              return {
                decide: { rule: "oracle", checks: [check], nowMs, countRejected: false, lease },
              };
            });
            const expected = [];
            for (const op of ops) {
              const d = op.decide ? await model.decide(op.decide) : await model.release(op.release);
              if (d && op.decide && d.allowed) held.push(op.decide.lease.id);
              expected.push(d);
            }
            const actual = await Promise.all(
              ops.map((op) =>
                op.decide ? redisStore.decide(op.decide) : redisStore.release(op.release),
              ),
            );
            expect(actual).toEqual(expected);
          }
        }),
      ),
      { numRuns: 60 },
    );
  });
});

describe("adaptive decisions by the script agree with the reference engine", () => {
  it("on random traces of health reports, pauses and scaled limits, sent in bursts", async () => {
    let run = 0;
    const reportArb = fc.record({
      requests: fc.integer({ min: 0, max: 30 }),
      errors: fc.integer({ min: 0, max: 30 }),
      slow: fc.integer({ min: 0, max: 30 }),
      overloaded: fc.integer({ min: 0, max: 5 }),
      pauseMs: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 3000 })),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          // Redis lets a key lapse on its own clock: a controller's state must
          // outlive a script call's real time, as it does with real settings.
          windowMs: fc.integer({ min: 100, max: 300 }),
          holdMs: fc.integer({ min: 0, max: 600 }),
          decreasePpm: fc.integer({ min: 100_000, max: 990_000 }),
          increasePpm: fc.integer({ min: 1, max: 500_000 }),
          minRequests: fc.integer({ min: 1, max: 20 }),
          latencyMs: fc.integer({ min: 0, max: 200 }),
          minPpm: fc.integer({ min: 1_000, max: 1_000_000 }),
          count: fc.integer({ min: 1, max: 40 }),
          // Short periods let keys lapse within a trace (see the check below).
          periodMs: fc.constantFrom(500, 2_000, 60_000),
          algorithm: fc.constantFrom<Algorithm>("gcra", "token-bucket", "fixed-window"),
          bursts: fc.array(
            fc.array(fc.record({ stepMs: fc.integer({ min: 0, max: 200 }), report: reportArb }), {
              minLength: 1,
              maxLength: 8,
            }),
            { minLength: 1, maxLength: 10 },
          ),
        }),
        reproducible(async (trace) => {
          run += 1;
          const redisStore = new RedisStore(client, { timeoutMs: 2000 });
          const model = new MemoryStore();
          const config = {
            ...defaultAdaptiveConfig,
            ...pick(trace, ["windowMs", "holdMs", "decreasePpm", "increasePpm"]),
            ...pick(trace, ["minRequests", "latencyMs", "minPpm"]),
          };
          const check: LimitCheck = {
            id: "l",
            key: `adaptive:${run}:l:s`,
            algorithm: trace.algorithm,
            count: trace.count,
            periodMs: trace.periodMs,
            burst: trace.count,
            cost: 1,
          };
          // As buildChecks gives it. Redis expires keys on its own clock, behind
          // the trace's: the model sees a key lapse that Redis still holds, which
          // decides alike only if a lapse means full under any scaling to come.
          check.floorCount = floorCount(check, config.minPpm);
          let offset = 0;
          for (const burst of trace.bursts) {
            const real = Date.now();
            const reqs = burst.map((event) => {
              offset += event.stepMs;
              const adaptive = { key: `adaptive:${run}:~adaptive:-`, config, report: event.report };
              return {
                rule: "oracle",
                checks: [check],
                nowMs: real + offset,
                countRejected: false,
                adaptive,
              };
            });
            const expected = [];
            for (const req of reqs) expected.push(await model.decide(req));
            expect(await Promise.all(reqs.map((req) => redisStore.decide(req)))).toEqual(expected);
          }
        }),
      ),
      { numRuns: 60 },
    );
  });
});

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;
}

/** Redis holds exactly the state strings the model wrote (those not about to expire). */
async function expectStored(writes: readonly Write[]): Promise<void> {
  const lasting = writes.filter((w) => w.ttlMs >= 50);
  if (lasting.length === 0) return;
  const stored = await redisCommand(redis.port, "MGET", ...lasting.map((w) => w.key));
  expect(stored).toEqual(lasting.map((w) => w.value));
}

describe("NOSCRIPT recovery", () => {
  it("decides correctly after the script cache is flushed, with no error", async () => {
    const store = new RedisStore(client, { timeoutMs: 2000 });
    const c: LimitCheck = {
      id: "ip-1m",
      key: `noscript:${Date.now()}`,
      algorithm: "gcra",
      count: 2,
      periodMs: 60_000,
      burst: 2,
      cost: 1,
    };
    const req = { rule: "r", checks: [c], nowMs: Date.now(), countRejected: false };
    expect((await store.decide(req)).allowed).toBe(true);
    await redisCommand(redis.port, "SCRIPT", "FLUSH");
    expect(await redisCommand(redis.port, "SCRIPT", "EXISTS", SCRIPTS.decide.sha1)).toEqual([0]);
    const second = await store.decide(req);
    expect(second.allowed).toBe(true);
    expect(second.limits[0]?.remaining).toBe(0);
    expect((await store.decide(req)).allowed).toBe(false);
  });
});

const ALL: Algorithm[] = ["gcra", "token-bucket", "fixed-window", "sliding-window", "sliding-log"];

describe("state hygiene", () => {
  /** One limit per algorithm on keys under `key`, all 5 per `periodMs`. */
  const checksFor = (key: string, periodMs: number): LimitCheck[] =>
    ALL.map((algorithm) => ({
      id: algorithm,
      key: `${key}:${algorithm}`,
      algorithm,
      count: 5,
      periodMs,
      burst: 5,
      cost: 1,
    }));

  it("gives every key an expiry tied to its refill or window", async () => {
    const store = new RedisStore(client, { timeoutMs: 2000 });
    const key = `ttl:${Date.now()}`;
    const nowMs = Date.now();
    await store.decide({ rule: "r", checks: checksFor(key, 60_000), nowMs, countRejected: false });
    const pttl = async (algorithm: Algorithm) =>
      Number(await redisCommand(redis.port, "PTTL", `${key}:${algorithm}`));
    // One unit refills in 12 s; a window lasts 60 s; a sliding window's count
    // weighs until the end of the next window; a log entry counts for 60 s.
    const expected: Record<Algorithm, number> = {
      gcra: 12_000,
      "token-bucket": 12_000,
      "fixed-window": 60_000,
      "sliding-window": 120_000 - (nowMs % 60_000),
      "sliding-log": 60_000,
    };
    for (const algorithm of ALL) {
      const ttl = await pttl(algorithm);
      expect(ttl, algorithm).toBeGreaterThan(expected[algorithm] - 1000);
      expect(ttl, algorithm).toBeLessThanOrEqual(expected[algorithm]);
    }
  });

  it("keeps a token bucket's key until it refills at its floor count", async () => {
    const store = new RedisStore(client, { timeoutMs: 2000 });
    const key = `floor:${Date.now()}`;
    const check: LimitCheck = {
      id: "tb",
      key,
      algorithm: "token-bucket",
      count: 16,
      periodMs: 60_000,
      burst: 16,
      cost: 1,
      floorCount: 1,
    };
    await store.decide({ rule: "r", checks: [check], nowMs: Date.now(), countRejected: false });
    const ttl = Number(await redisCommand(redis.port, "PTTL", key));
    // One token at 1/min, not the 3.75 s it takes at 16/min.
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it("stores exactly the model's state", async () => {
    const store = new RedisStore(client, { timeoutMs: 2000 });
    const checks = checksFor(`state:${Date.now()}`, 60_000);
    const nowMs = Date.now();
    let states: (string | undefined)[] = checks.map(() => undefined);
    // Two requests in the same ms: the log keeps them as one entry.
    for (let i = 0; i < 2; i++) {
      await store.decide({ rule: "r", checks, nowMs, countRejected: false });
      const { writes } = evaluate(checks, states, nowMs, false);
      states = writes.map((w) => w.value);
    }
    expect(states[4]).toBe(`${nowMs}:0,2`);
    expect(await redisCommand(redis.port, "MGET", ...checks.map((c) => c.key))).toEqual(states);
  });

  it("leaves nothing behind once an idle subject's window has passed", async () => {
    const store = new RedisStore(client, { timeoutMs: 2000 });
    // A second's period: the first EXISTS comes well within it, even on a busy machine.
    const checks = checksFor(`idle:${Date.now()}`, 1000);
    const keys = checks.map((c) => c.key);
    await store.decide({ rule: "r", checks, nowMs: Date.now(), countRejected: false });
    expect(await redisCommand(redis.port, "EXISTS", ...keys)).toBe(5);
    // Redis expires keys on its own clock, so this waits for real: the
    // longest lifetime is a sliding window's two periods.
    await new Promise((resolve) => setTimeout(resolve, 2 * 1000 + 20));
    expect(await redisCommand(redis.port, "EXISTS", ...keys)).toBe(0);
  });
});
