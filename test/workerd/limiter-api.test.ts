/** @module test/workerd/limiter-api — the limit store conformance suite: every store decides, peeks, refunds and resets alike. */
import { describe, expect, it } from "vitest";
import {
  type AdaptiveConfig,
  defaultAdaptiveConfig,
  EMPTY_REPORT,
  floorCount,
  type HealthReport,
} from "../../src/limiter/adaptive.ts";
import type { DecideRequest, LimitCheck } from "../../src/limiter/types.ts";
import type { Algorithm } from "../../src/policy/types.ts";
import { LIMIT_STORES, limitStore, uniquePrefix } from "./helpers.ts";

const T0 = 1_780_000_000_000;

function request(algorithm: Algorithm, nowMs: number, key: string): DecideRequest {
  const check: LimitCheck = {
    id: "l",
    key,
    algorithm,
    count: 3,
    periodMs: 60_000,
    burst: 3,
    cost: 1,
  };
  return { rule: "api-test", checks: [check], nowMs, countRejected: false };
}

const ALGORITHMS: Algorithm[] = [
  "gcra",
  "token-bucket",
  "fixed-window",
  "sliding-window",
  "sliding-log",
];

describe.each(LIMIT_STORES)("limiter API, %s store", (kind) => {
  it.each(ALGORITHMS)(
    "%s: peek consumes nothing, refund gives back, reset clears",
    async (algo) => {
      const store = limitStore(kind);
      const key = `${uniquePrefix()}:${algo}`;
      const at = (ms: number) => request(algo, T0 + ms, key);
      const remaining = async (ms: number) => (await store.peek(at(ms))).limits[0]?.remaining;

      expect(await remaining(0)).toBe(3);
      await store.decide(at(0));
      await store.decide(at(0));
      expect(await remaining(0)).toBe(1);
      expect(await remaining(0)).toBe(1);

      await store.refund(at(0));
      expect(await remaining(0)).toBe(2);

      await store.decide(at(0));
      await store.decide(at(0));
      const full = await store.peek(at(0));
      expect(full.allowed).toBe(false);
      expect(full.retryAfterMs).toBeGreaterThan(0);
      expect((await store.decide(at(0))).allowed).toBe(false);

      await store.reset("api-test", [key]);
      expect(await remaining(0)).toBe(3);
      expect((await store.decide(at(0))).allowed).toBe(true);
    },
  );

  it.each(ALGORITHMS)(
    "%s: refund never fills past capacity, and is a no-op on an idle key",
    async (algo) => {
      const store = limitStore(kind);
      const key = `${uniquePrefix()}:${algo}`;
      const at = (ms: number) => request(algo, T0 + ms, key);
      await store.refund(at(0));
      expect((await store.peek(at(0))).limits[0]?.remaining).toBe(3);
      await store.decide(at(0));
      await store.refund(at(0));
      await store.refund(at(0));
      await store.refund(at(0));
      expect((await store.peek(at(0))).limits[0]?.remaining).toBe(3);
      for (let i = 0; i < 3; i++) expect((await store.decide(at(0))).allowed).toBe(true);
      expect((await store.decide(at(0))).allowed).toBe(false);
    },
  );

  it.each(ALGORITHMS)(
    "%s: of 200 concurrent decisions on a limit of 50, exactly 50 are admitted",
    async (algo) => {
      const store = limitStore(kind);
      const key = `${uniquePrefix()}:${algo}`;
      const check: LimitCheck = {
        id: "l",
        key,
        algorithm: algo,
        count: 50,
        periodMs: 3_600_000,
        burst: 50,
        cost: 1,
      };
      const req: DecideRequest = {
        rule: "api-test",
        checks: [check],
        nowMs: T0,
        countRejected: false,
      };
      const decisions = await Promise.all(Array.from({ length: 200 }, () => store.decide(req)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
    },
  );

  it("decides a burst on 300 subjects, two limits each, in batches that write hundreds of keys", async () => {
    const store = limitStore(kind);
    const prefix = uniquePrefix();
    const req = (i: number): DecideRequest => ({
      rule: "api-test",
      checks: ["a", "b"].map((id) => ({
        id,
        key: `${prefix}:api-test:${id}:ip:192.0.2.${i}`,
        algorithm: "gcra" as const,
        count: 1,
        periodMs: 3_600_000,
        burst: 1,
        cost: 1,
      })),
      nowMs: T0,
      countRejected: false,
    });
    const first = await Promise.all(Array.from({ length: 300 }, (_, i) => store.decide(req(i))));
    expect(first.filter((d) => d.allowed)).toHaveLength(300);
    const again = await Promise.all(Array.from({ length: 300 }, (_, i) => store.decide(req(i))));
    expect(again.filter((d) => d.allowed)).toHaveLength(0);
  });

  it("commits all of a decision's limits or none", async () => {
    const store = limitStore(kind);
    const prefix = uniquePrefix();
    const limit = (id: string, count: number): LimitCheck => ({
      id,
      key: `${prefix}:${id}`,
      algorithm: "gcra",
      count,
      periodMs: 3_600_000,
      burst: count,
      cost: 1,
    });
    const both: DecideRequest = {
      rule: "api-test",
      checks: [limit("wide", 10), limit("narrow", 2)],
      nowMs: T0,
      countRejected: false,
    };
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await store.decide(both)).allowed);
    expect(results).toEqual([true, true, false, false]);
    // The two denied requests took nothing from the wide limit.
    const wide = await store.peek({ ...both, checks: [limit("wide", 10)] });
    expect(wide.limits[0]?.remaining).toBe(8);
  });

  it("under a burst of decisions spanning two subjects, never admits past a limit and leaks nothing", async () => {
    const store = limitStore(kind);
    const prefix = uniquePrefix();
    const check = (key: string, count: number): LimitCheck => ({
      id: key,
      key: `${prefix}:r:l:${key}`,
      algorithm: "gcra",
      count,
      periodMs: 3_600_000,
      burst: count,
      cost: 1,
    });
    const shared = check("global", 40);
    const request = (i: number): DecideRequest => ({
      rule: "api-test",
      checks: [shared, check(`key:${i % 10}`, 5)],
      nowMs: T0,
      countRejected: false,
    });
    const decisions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => store.decide(request(i))),
    );
    const admitted = decisions.filter((d) => d.allowed).length;
    for (let k = 0; k < 10; k++) {
      const mine = decisions.filter((d, i) => d.allowed && i % 10 === k).length;
      expect(mine).toBeLessThanOrEqual(5);
    }
    expect(admitted).toBeLessThanOrEqual(40);
    // One place holds every key: the same decisions one at a time admit exactly 40.
    if (kind !== "durable-object-sharded") expect(admitted).toBe(40);
    // What was taken for refused requests was given back: the shared limit
    // holds exactly the admitted requests.
    const left = await store.peek({ ...request(0), checks: [shared] });
    expect(left.limits[0]?.remaining).toBe(40 - admitted);
  });

  it("bans a hammering subject for 10, 20, 40, then 60 minutes; lists the ban; a reset lifts it", async () => {
    const store = limitStore(kind);
    const prefix = uniquePrefix();
    const MIN = 60_000;
    const check: LimitCheck = {
      id: "ip-1m",
      key: `${prefix}:login:ip-1m:ip:192.0.2.9`,
      algorithm: "gcra",
      count: 5,
      periodMs: MIN,
      burst: 5,
      cost: 1,
    };
    const ban = {
      key: `${prefix}:login:~ban:ip:192.0.2.9`,
      after: 3,
      withinMs: MIN,
      forMs: 10 * MIN,
      escalate: 2,
      maxMs: 60 * MIN,
    };
    const at = (nowMs: number): DecideRequest => ({
      rule: "login",
      checks: [check],
      nowMs,
      countRejected: false,
      ban,
    });
    let now = T0;
    const bans: number[] = [];
    for (let round = 0; round < 4; round++) {
      // Hammer until banned: the limit's 5, then denials until the third strike.
      let decision = await store.decide(at(now));
      for (let i = 0; i < 20 && !decision.banned; i++) decision = await store.decide(at(now));
      expect(decision.banned?.started).toBe(true);
      bans.push((decision.banned?.untilMs ?? 0) - now);
      // Banned: refused until the ban ends, without touching the limit.
      const during = await store.decide(at(now + 1000));
      expect(during).toMatchObject({ allowed: false, limits: [], banned: { started: false } });
      expect(during.retryAfterMs).toBe((decision.banned?.untilMs ?? 0) - now - 1000);
      now = (decision.banned?.untilMs ?? 0) + MIN;
    }
    expect(bans).toEqual([10 * MIN, 20 * MIN, 40 * MIN, 60 * MIN]);

    // Banned again, listed, then lifted by a reset of its key.
    let decision = await store.decide(at(now));
    for (let i = 0; i < 20 && !decision.banned; i++) decision = await store.decide(at(now));
    const listed = await store.listBans(`${prefix}:`, ["login"], now);
    expect(listed).toEqual([{ key: ban.key, untilMs: decision.banned?.untilMs, level: 5 }]);
    await store.reset("login", [ban.key, check.key]);
    expect((await store.decide(at(now))).allowed).toBe(true);
    expect(await store.listBans(`${prefix}:`, ["login"], now)).toEqual([]);
  });

  it("bans on a decision whose limits live in different places too", async () => {
    const store = limitStore(kind);
    const prefix = uniquePrefix();
    const limit = (key: string, count: number): LimitCheck => ({
      id: key.split(":")[0] as string,
      key: `${prefix}:api:${key}`,
      algorithm: "gcra",
      count,
      periodMs: 3_600_000,
      burst: count,
      cost: 1,
    });
    const req = (nowMs: number): DecideRequest => ({
      rule: "api",
      checks: [limit("apikey-1h:key:k1", 2), limit("ip-1h:ip:192.0.2.7", 100)],
      nowMs,
      countRejected: false,
      ban: {
        key: `${prefix}:api:~ban:key:k1`,
        after: 2,
        withinMs: 60_000,
        forMs: 600_000,
        escalate: 2,
        maxMs: 3_600_000,
      },
    });
    const outcomes = [];
    for (let i = 0; i < 5; i++) {
      const d = await store.decide(req(T0 + i));
      outcomes.push(d.banned ? `banned${d.banned.started ? "!" : ""}` : d.allowed);
    }
    expect(outcomes).toEqual([true, true, false, "banned!", "banned"]);
    // The address limit kept only the two admitted requests.
    const ip = await store.peek({ ...req(T0 + 10), checks: [limit("ip-1h:ip:192.0.2.7", 100)] });
    expect(ip.limits[0]?.remaining).toBe(98);
  });

  it.each(["gcra", "token-bucket"] as const)(
    "%s: delays instead of refusing, each delayed request one interval after the last",
    async (algorithm) => {
      const store = limitStore(kind);
      const key = `${uniquePrefix()}:delay:${algorithm}`;
      const check: LimitCheck = {
        id: "l",
        key,
        algorithm,
        count: 10,
        periodMs: 1000,
        burst: 5,
        cost: 1,
      };
      const at = (maxDelayMs: number): DecideRequest => ({
        rule: "delay-test",
        checks: [check],
        nowMs: T0,
        countRejected: false,
        maxDelayMs,
      });
      // 20 at once at "10/s burst 5": 5 now, then one every 100 ms.
      const long = await Promise.all(Array.from({ length: 20 }, () => store.decide(at(2000))));
      expect(long.every((d) => d.allowed)).toBe(true);
      expect(long.map((d) => d.delayMs ?? 0)).toEqual([
        0, 0, 0, 0, 0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400,
        1500,
      ]);
      // With at most 500 ms to wait, the rest are refused: the next slot is 1.6 s away.
      const short = await store.decide(at(500));
      expect(short.allowed).toBe(false);
      expect(short.retryAfterMs).toBe(1600);
    },
  );

  it("caps requests in flight with leases: taken with the decision, given back, lapsing at their deadline", async () => {
    const store = limitStore(kind);
    const prefix = uniquePrefix();
    const check: LimitCheck = {
      id: "tenant-1m",
      key: `${prefix}:api:tenant-1m:tenant:acme`,
      algorithm: "gcra",
      count: 1000,
      periodMs: 60_000,
      burst: 1000,
      cost: 1,
    };
    const at = (nowMs: number, id: string): DecideRequest => ({
      rule: "api",
      checks: [check],
      nowMs,
      countRejected: false,
      lease: { key: `${prefix}:api:~lease:tenant:acme`, max: 10, id, ttlMs: 30_000 },
    });
    const first = await Promise.all(
      Array.from({ length: 200 }, (_, i) => store.decide(at(T0, `r${i}`))),
    );
    const held = first.flatMap((d, i) => (d.allowed ? [`r${i}`] : []));
    expect(held).toHaveLength(10);
    const refused = first.filter((d) => !d.allowed);
    expect(refused.every((d) => d.retryAfterMs === 1000)).toBe(true);
    expect(refused[0]?.concurrency).toEqual({ max: 10, inFlight: 10 });
    // Refused requests consumed nothing of the rate.
    expect((await store.peek(at(T0, "x"))).limits[0]?.remaining).toBe(990);

    for (const id of held.slice(0, 3)) {
      await store.release({ rule: "api", key: `${prefix}:api:~lease:tenant:acme`, id, nowMs: T0 });
    }
    const again = await Promise.all(
      Array.from({ length: 5 }, (_, i) => store.decide(at(T0 + 1, `s${i}`))),
    );
    expect(again.filter((d) => d.allowed)).toHaveLength(3);
    // Leases of a holder that never gave them back lapse at their deadline.
    const later = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.decide(at(T0 + 30_001, `t${i}`))),
    );
    expect(later.filter((d) => d.allowed)).toHaveLength(10);
  });

  it("caps requests in flight on a decision whose limits live in different places too", async () => {
    const store = limitStore(kind);
    const prefix = uniquePrefix();
    const limit = (key: string): LimitCheck => ({
      id: key.split(":")[0] as string,
      key: `${prefix}:api:${key}`,
      algorithm: "gcra",
      count: 1000,
      periodMs: 60_000,
      burst: 1000,
      cost: 1,
    });
    const checks = [limit("tenant-1m:tenant:acme"), limit("ip-1m:ip:192.0.2.8")];
    const at = (id: string): DecideRequest => ({
      rule: "api",
      checks,
      nowMs: T0,
      countRejected: false,
      lease: { key: `${prefix}:api:~lease:tenant:acme`, max: 3, id, ttlMs: 30_000 },
    });
    const decisions = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.decide(at(`r${i}`))),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
    // Only the three admitted requests were counted by either limit.
    const now = await store.peek({ ...at("x"), checks });
    expect(now.limits.map((l) => l.remaining)).toEqual([997, 997]);
  });
  it("scales limits by the rule's adaptive factor, from the report sent with the same decision", async () => {
    const store = limitStore(kind);
    const prefix = uniquePrefix();
    const config: AdaptiveConfig = {
      ...defaultAdaptiveConfig,
      decreasePpm: 500_000,
      windowMs: 100,
      holdMs: 200,
      minRequests: 5,
      latencyMs: 0,
    };
    const limit = (key: string, count: number): LimitCheck => ({
      id: key.split(":")[0] as string,
      key: `${prefix}:api:${key}`,
      algorithm: "fixed-window",
      count,
      periodMs: 60_000,
      burst: count,
      cost: 1,
    });
    // Two subjects: with shards, the limits and the controller live apart.
    const checks = [limit("tenant-1m:tenant:acme", 100), limit("ip-1m:ip:192.0.2.9", 40)];
    const at = (ms: number, report: Partial<HealthReport> = {}): DecideRequest => ({
      rule: "api",
      checks,
      nowMs: T0 + ms,
      countRejected: false,
      adaptive: {
        key: `${prefix}:api:~adaptive:-`,
        config,
        report: { ...EMPTY_REPORT, ...report },
      },
    });

    const first = await store.decide(at(0, { requests: 10, errors: 10 }));
    expect(first.adaptive).toEqual({ factorPpm: 1_000_000, pauseUntilMs: 0 });
    expect(first.limits.map((l) => [l.count, l.remaining])).toEqual([
      [100, 99],
      [40, 39],
    ]);

    // The window is judged: all errors, the factor halves, the limits with it.
    const second = await store.decide(at(100));
    expect(second.adaptive).toEqual({ factorPpm: 500_000, pauseUntilMs: 0 });
    expect(second.limits.map((l) => [l.count, l.remaining])).toEqual([
      [50, 48],
      [20, 18],
    ]);

    // The origin asks for a pause: it is stated, and the factor halves again.
    const third = await store.decide(at(400, { requests: 1, overloaded: 1, pauseMs: 1000 }));
    expect(third.adaptive).toEqual({ factorPpm: 250_000, pauseUntilMs: T0 + 1400 });
    expect(third.limits.map((l) => l.count)).toEqual([25, 10]);

    // Without a report the decision reads the factor, and only the factor's limits admit.
    const rest = await Promise.all(Array.from({ length: 12 }, () => store.decide(at(500))));
    expect(rest.filter((d) => d.allowed)).toHaveLength(10 - 3);
  });
});

// Redis lapses keys on its own clock, not the caller's; its expiry is checked
// against the script's PTTL in test/node/limiter/redis-oracle.test.ts.
describe.each(LIMIT_STORES.filter((k) => k !== "redis"))(
  "scaled limits on the caller's clock, %s store",
  (kind) => {
    it("a token bucket scaled down later still holds what it is owed", async () => {
      const store = limitStore(kind);
      const prefix = uniquePrefix();
      const config: AdaptiveConfig = {
        ...defaultAdaptiveConfig,
        decreasePpm: 100_000,
        windowMs: 100,
        minRequests: 5,
      };
      // 16/min, scaled down to 1/min at the controller's least share; the floor as buildChecks gives it.
      const check: LimitCheck = {
        id: "tb",
        key: `${prefix}:api:tb~tb:ip:192.0.2.9`,
        algorithm: "token-bucket",
        count: 16,
        periodMs: 60_000,
        burst: 16,
        cost: 1,
        floorCount: floorCount({ count: 16, cost: 1 }, config.minPpm),
      };
      const at = (ms: number, report: Partial<HealthReport> = {}): DecideRequest => ({
        rule: "api",
        checks: [check],
        nowMs: T0 + ms,
        countRejected: false,
        adaptive: {
          key: `${prefix}:api:~adaptive:-`,
          config,
          report: { ...EMPTY_REPORT, ...report },
        },
      });

      expect((await store.decide(at(0, { requests: 10, errors: 10 }))).allowed).toBe(true);
      const scaled = await store.decide(at(100));
      expect(scaled.adaptive?.factorPpm).toBe(100_000);
      expect(scaled.limits[0]?.count).toBe(1);
      // At 16/min the token was back after 3.75 s; at 1/min it takes 60 s.
      const later = await store.decide(at(3_800));
      expect(later.allowed).toBe(false);
      expect(later.retryAfterMs).toBe(60_000 - 3_800);
    });
  },
);
