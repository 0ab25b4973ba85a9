import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fixedWindowStep } from "../../../src/limiter/algorithms/fixed-window.ts";
import { gcraStep } from "../../../src/limiter/algorithms/gcra.ts";
import { slidingLogStep } from "../../../src/limiter/algorithms/sliding-log.ts";
import { slidingWindowStep } from "../../../src/limiter/algorithms/sliding-window.ts";
import {
  tokenBucketRefund,
  tokenBucketReserve,
  tokenBucketStep,
} from "../../../src/limiter/algorithms/token-bucket.ts";
import { ALGORITHMS, evaluate, refundWrites } from "../../../src/limiter/model.ts";
import type { LimitCheck } from "../../../src/limiter/types.ts";
import type { Algorithm } from "../../../src/policy/types.ts";

const T0 = 1_750_000_000_000;

function check(over: Partial<LimitCheck> = {}): LimitCheck {
  return {
    id: "ip-1m",
    key: "k1",
    algorithm: "gcra",
    count: 5,
    periodMs: 60_000,
    burst: 5,
    cost: 1,
    ...over,
  };
}

/** Runs requests at the given times against in-memory state; returns each decision. */
function run(
  checks: LimitCheck[],
  times: number[],
  countRejected = false,
  state = new Map<string, string>(),
) {
  return times.map((now) => {
    const { decision, writes } = evaluate(
      checks,
      checks.map((c) => state.get(c.key)),
      now,
      countRejected,
    );
    for (const w of writes) state.set(w.key, w.value);
    return decision;
  });
}

describe("gcra", () => {
  it("admits exactly burst requests back to back from idle", () => {
    const out = run([check()], Array(7).fill(T0));
    expect(out.map((d) => d.allowed)).toEqual([true, true, true, true, true, false, false]);
    expect(out.map((d) => d.limits[0]?.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0]);
  });

  it("points Retry-After at the next emission interval", () => {
    const out = run([check()], [...Array(5).fill(T0), T0 + 1000]);
    // 5/min refills one every 12 s; 1 s has passed.
    expect(out[5]?.retryAfterMs).toBe(11_000);
    expect(out[5]?.limits[0]?.resetMs).toBe(11_000);
  });

  it("admits again once one interval has passed", () => {
    const out = run([check()], [...Array(5).fill(T0), T0 + 12_000, T0 + 12_000]);
    expect(out.map((d) => d.allowed)).toEqual([true, true, true, true, true, true, false]);
  });

  it("honours burst above count: 10/s burst 20 admits 20 at once, then 1 per 100 ms", () => {
    const c = check({ count: 10, periodMs: 1000, burst: 20 });
    const out = run([c], [...Array(21).fill(T0), T0 + 100]);
    expect(out.filter((d) => d.allowed)).toHaveLength(21);
    expect(out[20]?.allowed).toBe(false);
  });

  it("charges cost units", () => {
    const out = run([check({ cost: 2 })], Array(3).fill(T0));
    expect(out.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(out[1]?.limits[0]?.remaining).toBe(1);
  });

  it("never lets time run backwards for a key", () => {
    const c = check({ count: 1, periodMs: 1000, burst: 1 });
    const first = gcraStep(null, T0 + 5000, c);
    // A caller 5 s behind sees the key at the latest time seen, not its own.
    const late = gcraStep(first.consumed.value, T0, c);
    expect(late.allowed).toBe(false);
    expect(late.retryMs).toBe(1000);
  });

  it("reports the state lifetime as the time to full refill", () => {
    const s = gcraStep(null, T0, check());
    expect(s.consumed.ttlMs).toBe(12_000);
    expect(s.consumed.resetMs).toBe(12_000);
  });

  it("rounds a non-integer interval up to whole microseconds", () => {
    const c = check({ count: 3, periodMs: 1000, burst: 1 });
    const s = gcraStep(null, T0, c);
    expect(s.consumed.value).toBe(`${T0 * 1000 + 333_334}:${T0}`);
  });
});

describe("fixed window", () => {
  const fw = check({ algorithm: "fixed-window", count: 3, periodMs: 10_000, burst: 3 });

  it("admits count per window, the window opening at the first hit", () => {
    const out = run([fw], [T0 + 7, T0 + 8, T0 + 9, T0 + 10, T0 + 10_006, T0 + 10_007]);
    expect(out.map((d) => d.allowed)).toEqual([true, true, true, false, false, true]);
    expect(out[3]?.retryAfterMs).toBe(9_997);
  });

  it("expires its key when the window closes", () => {
    const s = fixedWindowStep(null, T0, fw);
    expect(s.consumed.ttlMs).toBe(10_000);
    expect(s.consumed.value).toBe(`${T0}:1:${T0}`);
  });
});

describe("token bucket", () => {
  // The README's example: "10/s burst 20".
  const tb = check({ algorithm: "token-bucket", count: 10, periodMs: 1000, burst: 20 });

  it("admits the capacity at once, then refills continuously at the rate", () => {
    const state = new Map<string, string>();
    const burst = run([tb], Array(21).fill(T0), false, state);
    expect(burst.filter((d) => d.allowed)).toHaveLength(20);
    // One token every 100 ms.
    expect(burst[20]?.retryAfterMs).toBe(100);
    // 250 ms later 2.5 tokens are back: two pass, the third waits for the missing half token.
    const later = run([tb], Array(3).fill(T0 + 250), false, state);
    expect(later.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(later[2]?.retryAfterMs).toBe(50);
    expect(later[1]?.limits[0]?.resetMs).toBe(1950);
  });

  it("charges cost tokens and points Retry-After at the time they are all back", () => {
    const state = new Map<string, string>();
    const costly = { ...tb, cost: 5 };
    const out = run([costly], [T0, T0, T0, T0, T0, T0 + 120], false, state);
    expect(out.map((d) => d.allowed)).toEqual([true, true, true, true, false, false]);
    expect(out[4]?.retryAfterMs).toBe(500);
    expect(out[5]?.retryAfterMs).toBe(380);
  });

  it("with countRejected, a denied request empties the bucket", () => {
    const small = check({ algorithm: "token-bucket", count: 2, periodMs: 60_000, burst: 2 });
    const out = run([small], [T0, T0, T0 + 10_000, T0 + 20_000], true);
    expect(out.map((d) => d.allowed)).toEqual([true, true, false, false]);
    // 30 s per token; each denied attempt throws away the part refilled so far.
    expect(out.map((d) => d.retryAfterMs)).toEqual([0, 0, 30_000, 30_000]);
  });

  it("keeps the missing units, in 1/period of a token, and expires when full", () => {
    const s = tokenBucketStep(null, T0, tb);
    expect(s.consumed.value).toBe(`1000:${T0}`);
    expect(s.consumed.ttlMs).toBe(100);
  });

  it("with a floor count, keeps its key until it refills at that count, so a later scale-down forgives nothing", () => {
    // Written at 16/min, later scaled down to 1/min by a controller at its floor.
    const full = check({ algorithm: "token-bucket", count: 16, periodMs: 60_000, burst: 16 });
    const floored = { ...full, floorCount: 1 };
    const scaled = { ...floored, count: 1, burst: 1 };
    expect(tokenBucketStep(null, T0, full).consumed.ttlMs).toBe(3_750);
    const written = tokenBucketStep(null, T0, floored).consumed;
    expect(written.ttlMs).toBe(60_000);
    // Past the unfloored lifetime, the scaled bucket still owes most of a token.
    const later = tokenBucketStep(written.value, T0 + 3_751, scaled);
    expect(later.allowed).toBe(false);
    expect(later.retryMs).toBe(60_000 - 3_751);
    expect(tokenBucketStep(written.value, T0 + written.ttlMs, scaled).allowed).toBe(true);
    // Refunds and reservations live by the floor too.
    expect(tokenBucketRefund(`120000:${T0}`, T0, floored)?.ttlMs).toBe(60_000);
    expect(tokenBucketReserve(null, T0, floored, 1_000).ttlMs).toBe(60_000 + 16_000);
  });
});

describe("sliding window", () => {
  // The README's example: "10/min"; windows start on whole minutes of the key's clock.
  const minute = 60_000;
  const start = Math.ceil(T0 / minute) * minute;
  const sw = check({ algorithm: "sliding-window", count: 10, periodMs: minute, burst: 10 });

  it("weights the previous window by how much of it the last minute still covers", () => {
    const state = new Map<string, string>();
    const first = run([sw], Array(11).fill(start + 30_000), false, state);
    expect(first.filter((d) => d.allowed)).toHaveLength(10);
    // At 6 s into the next minute the ten weigh 10 × 54/60 = 9: one fits.
    expect(first[10]?.retryAfterMs).toBe(36_000);
    // 15 s into the next minute the 10 earlier ones weigh 10 × 45/60 = 7.5: two more fit.
    const next = run([sw], Array(3).fill(start + minute + 15_000), false, state);
    expect(next.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(next[0]?.limits[0]?.remaining).toBe(1);
    // 7.5 + 2 + 1 fits again when the weight falls to 7: at 18 s, 3 s later.
    expect(next[2]?.retryAfterMs).toBe(3000);
    expect(run([sw], [start + minute + 18_000], false, state)[0]?.allowed).toBe(true);
  });

  it("admits up to 2 × count − 1 in one period in the worst case", () => {
    const state = new Map<string, string>();
    const lastMs = start + minute - 1;
    const burst = run([sw], Array(10).fill(lastMs), false, state);
    // Then as early as the estimate allows: at 6 s, 12 s, …, 54 s into the next minute.
    const times = Array.from({ length: 9 }, (_, i) => start + minute + 6000 * (i + 1));
    const spread = run([sw], times, false, state);
    const admitted = [...burst, ...spread].filter((d) => d.allowed).length;
    expect(admitted).toBe(19);
    expect((times.at(-1) as number) - lastMs).toBeLessThan(minute);
  });

  it("keeps its key until the current window stops weighing, two windows at most", () => {
    const s = slidingWindowStep(null, start + 15_000, sw);
    expect(s.consumed.value).toBe(`${start / minute}:1:0:${start + 15_000}`);
    expect(s.consumed.ttlMs).toBe(2 * minute - 15_000);
  });
});

describe("sliding log", () => {
  // The README's example: "3/min".
  const sl = check({ algorithm: "sliding-log", count: 3, periodMs: 60_000, burst: 3 });

  it("admits no more than count in any period, and retries when the oldest entry ages out", () => {
    const out = run([sl], [T0, T0 + 20_000, T0 + 40_000, T0 + 50_000, T0 + 59_999, T0 + 60_000]);
    expect(out.map((d) => d.allowed)).toEqual([true, true, true, false, false, true]);
    expect(out[3]?.retryAfterMs).toBe(10_000);
    expect(out[4]?.retryAfterMs).toBe(1);
  });

  it("keeps one entry per ms, ages relative to the key's time, expiring a period after the newest", () => {
    const state = new Map<string, string>();
    run([sl], [T0, T0, T0 + 20_000], false, state);
    expect(state.get("k1")).toBe(`${T0 + 20_000}:20000,2:0,1`);
    const s = slidingLogStep(state.get("k1"), T0 + 30_000, sl);
    expect(s.consumed.ttlMs).toBe(60_000);
    expect(s.retryMs).toBe(30_000);
  });

  it("with countRejected, logs denied requests too but never more than count entries", () => {
    const state = new Map<string, string>();
    const times = Array.from({ length: 8 }, (_, i) => T0 + i * 1000);
    const out = run([sl], times, true, state);
    expect(out.filter((d) => d.allowed)).toHaveLength(3);
    expect(state.get("k1")?.split(":").length).toBe(1 + 3);
    // Once all but the two newest (6 s, 7 s) have aged out: 5 s + 60 s − 7 s, as an unmerged log says.
    expect(out[7]?.retryAfterMs).toBe(58_000);
  });
});

describe("refunds", () => {
  it("token bucket: puts tokens back, never past full", () => {
    const tb = check({ algorithm: "token-bucket", count: 2, periodMs: 1000, burst: 2, cost: 1 });
    const after = run([tb], [T0, T0]);
    expect(after[1]?.limits[0]?.remaining).toBe(0);
    const state = new Map<string, string>();
    run([tb], [T0, T0], false, state);
    for (const w of refundWrites([{ ...tb, cost: 5 }], [state.get("k1")], T0)) {
      state.set(w.key, w.value);
    }
    expect(run([tb], [T0, T0, T0], false, state).map((d) => d.allowed)).toEqual([
      true,
      true,
      false,
    ]);
  });

  it("sliding window: takes cost off the current window, then the previous one", () => {
    const sw = check({ algorithm: "sliding-window", count: 4, periodMs: 1000, burst: 4 });
    const start = Math.ceil(T0 / 1000) * 1000;
    const state = new Map<string, string>();
    run([sw], [start + 900, start + 900, start + 1100], false, state);
    const [w] = refundWrites([{ ...sw, cost: 2 }], [state.get("k1")], start + 1100);
    expect(w?.value).toBe(`${start / 1000 + 1}:0:1:${start + 1100}`);
  });

  it("sliding log: removes the newest entries worth cost", () => {
    const sl = check({ algorithm: "sliding-log", count: 6, periodMs: 1000, burst: 6 });
    const state = new Map<string, string>();
    run([{ ...sl, cost: 2 }], [T0, T0 + 10, T0 + 20], false, state);
    const [w] = refundWrites([{ ...sl, cost: 3 }], [state.get("k1")], T0 + 30);
    expect(w?.value).toBe(`${T0 + 30}:30,2:20,1`);
    expect(w?.ttlMs).toBe(980);
  });

  it("has nothing to give back on an idle key", () => {
    for (const algorithm of Object.keys(ALGORITHMS) as Algorithm[]) {
      expect(refundWrites([check({ algorithm })], [null], T0)).toEqual([]);
    }
  });
});

/** Random limits and traces, for the properties every algorithm must have. */
const propertyArb = fc.record({
  algorithm: fc.constantFrom<Algorithm>(
    "gcra",
    "token-bucket",
    "fixed-window",
    "sliding-window",
    "sliding-log",
  ),
  count: fc.integer({ min: 1, max: 6 }),
  // Short periods too, so steps of a few ms land on the boundaries.
  periodMs: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 10, max: 2000 })),
  extraBurst: fc.integer({ min: 0, max: 3 }),
  countRejected: fc.boolean(),
  events: fc.array(
    fc.record({
      stepMs: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 1000 })),
      cost: fc.integer({ min: 1, max: 4 }),
      refund: fc.boolean(),
    }),
    { minLength: 1, maxLength: 30 },
  ),
});

/** Walks a random trace, handing each intermediate state to `visit`. */
function walk(
  trace: typeof propertyArb extends fc.Arbitrary<infer T> ? T : never,
  visit: (state: string | undefined, now: number, limit: LimitCheck, seen: number) => void,
): void {
  const burst =
    trace.algorithm === "gcra" || trace.algorithm === "token-bucket"
      ? trace.count + trace.extraBurst
      : trace.count;
  let state: string | undefined;
  let now = T0;
  let seen = T0;
  for (const e of trace.events) {
    now += e.stepMs;
    const limit = check({
      algorithm: trace.algorithm,
      count: trace.count,
      periodMs: trace.periodMs,
      burst,
      cost: Math.min(e.cost, burst),
    });
    visit(state, now, limit, seen);
    const [w] = e.refund
      ? refundWrites([limit], [state], now)
      : evaluate([limit], [state], now, trace.countRejected).writes;
    if (w) {
      state = w.value;
      seen = now;
    }
  }
}

describe("every algorithm", () => {
  it("admits exactly when the cost fits in what is remaining", () => {
    fc.assert(
      fc.property(propertyArb, (trace) =>
        walk(trace, (state, now, limit) => {
          const s = ALGORITHMS[limit.algorithm].step(state, now, limit);
          expect(s.allowed).toBe(limit.cost <= s.remaining);
          expect(s.consumed.remaining).toBeGreaterThanOrEqual(0);
        }),
      ),
    );
  });

  it("admits at exactly the retry time, not a millisecond before", () => {
    fc.assert(
      fc.property(propertyArb, (trace) =>
        walk(trace, (state, now, limit) => {
          const model = ALGORITHMS[limit.algorithm];
          const s = model.step(state, now, limit);
          expect(s.allowed).toBe(s.retryMs === 0);
          if (s.allowed) return;
          expect(model.step(state, now + s.retryMs, limit).allowed).toBe(true);
          expect(model.step(state, now + s.retryMs - 1, limit).allowed).toBe(false);
          // The same holds for the state after consuming (countRejected, or the next request).
          const next = s.consumed;
          if (next.retryMs > 0) {
            expect(model.step(next.value, now + next.retryMs, limit).allowed).toBe(true);
            expect(model.step(next.value, now + next.retryMs - 1, limit).allowed).toBe(false);
          }
        }),
      ),
    );
  });

  it("is back to no state at all once the key's TTL has passed", () => {
    fc.assert(
      fc.property(propertyArb, fc.integer({ min: 0, max: 5000 }), (trace, later) =>
        walk(trace, (state, now, limit) => {
          const model = ALGORITHMS[limit.algorithm];
          const s = model.step(state, now, limit);
          // Sliding windows weigh the current window until the next one ends: 2 periods.
          const most =
            limit.algorithm === "sliding-window"
              ? 2 * limit.periodMs
              : limit.algorithm === "gcra" || limit.algorithm === "token-bucket"
                ? Math.ceil((limit.burst * limit.periodMs) / limit.count) + 1
                : limit.periodMs;
          expect(s.consumed.ttlMs).toBeGreaterThanOrEqual(1);
          // GCRA alone lets counted rejections run the key into debt past a full refill.
          if (s.allowed || limit.algorithm !== "gcra") {
            expect(s.consumed.ttlMs).toBeLessThanOrEqual(most);
          }
          const at = now + s.consumed.ttlMs + later;
          const fresh = model.step(null, at, limit);
          const { consumed: a, ...lapsed } = model.step(s.consumed.value, at, limit);
          const { consumed: b, ...idle } = fresh;
          expect(lapsed).toEqual(idle);
          expect({ ...a, value: "" }).toEqual({ ...b, value: "" });
          const refund = model.refund(s.consumed.value, at, limit);
          if (refund) expect(model.step(refund.value, at, limit).remaining).toBe(fresh.remaining);
        }),
      ),
    );
  });

  it("admits no more in any period than the README states", () => {
    // Sliding log: exactly count. Sliding window: 2 × count − 1. Fixed window:
    // two windows' worth. Buckets: the burst plus one period's refill.
    const most = (l: LimitCheck): number => {
      if (l.algorithm === "sliding-log") return l.count;
      if (l.algorithm === "sliding-window") return 2 * l.count - 1;
      if (l.algorithm === "fixed-window") return 2 * l.count;
      return l.burst + l.count;
    };
    fc.assert(
      fc.property(propertyArb, (trace) => {
        const admitted: Array<{ at: number; cost: number }> = [];
        let limit: LimitCheck | undefined;
        // Refunds give units back, so only plain requests count here.
        const events = trace.events.map((e) => ({ ...e, refund: false }));
        walk({ ...trace, countRejected: false, events }, (state, now, l) => {
          limit = l;
          if (ALGORITHMS[l.algorithm].step(state, now, l).allowed) {
            admitted.push({ at: now, cost: l.cost });
          }
        });
        if (!limit) return;
        const p = limit.periodMs;
        for (const { at } of admitted) {
          const inPeriod = admitted.filter((a) => a.at <= at && a.at > at - p);
          expect(inPeriod.reduce((sum, a) => sum + a.cost, 0)).toBeLessThanOrEqual(most(limit));
        }
      }),
    );
  });

  it("never lets a caller behind the key's time see an earlier time", () => {
    fc.assert(
      fc.property(propertyArb, fc.integer({ min: 1, max: 5000 }), (trace, behind) =>
        walk(trace, (state, _now, limit, seen) => {
          if (state === undefined) return;
          const model = ALGORITHMS[limit.algorithm];
          expect(model.step(state, seen - behind, limit)).toEqual(model.step(state, seen, limit));
          expect(model.refund(state, seen - behind, limit)).toEqual(
            model.refund(state, seen, limit),
          );
        }),
      ),
    );
  });
});

describe("multi-limit decisions", () => {
  const perSecond = check({ id: "ip-1s", key: "a", count: 2, periodMs: 1000, burst: 2 });
  const perHour = check({ id: "ip-1h", key: "b", count: 3, periodMs: 3_600_000, burst: 3 });

  it("consumes nothing from any limit when one denies", () => {
    const out = run([perSecond, perHour], [T0, T0, T0, T0 + 1000, T0 + 1000]);
    expect(out.map((d) => d.allowed)).toEqual([true, true, false, true, false]);
    // The denied request at T0 did not spend the hourly budget: the 4th is admitted.
    expect(out[3]?.limits.map((l) => l.remaining)).toEqual([1, 0]);
    // The hourly limit is what denies the 5th; the per-second one still had room.
    expect(out[4]?.limits.map((l) => l.allowed)).toEqual([true, false]);
    expect(out[4]?.retryAfterMs).toBe(1_200_000 - 1000);
  });

  it("with countRejected, denied requests consume and push the retry time out", () => {
    const single = check({ count: 1, periodMs: 1000, burst: 1 });
    const out = run([single], [T0, T0, T0], true);
    expect(out.map((d) => d.allowed)).toEqual([true, false, false]);
    expect(out[1]?.retryAfterMs).toBe(2000);
    expect(out[2]?.retryAfterMs).toBe(3000);
  });

  it("reports per-limit state in the order of the checks", () => {
    const [d] = run([perSecond, perHour], [T0]);
    expect(d?.limits.map((l) => l.id)).toEqual(["ip-1s", "ip-1h"]);
    expect(d?.limits.map((l) => [l.count, l.periodMs])).toEqual([
      [2, 1000],
      [3, 3_600_000],
    ]);
  });
});
