import { describe, expect, it } from "vitest";
import { fixedWindowStep } from "../../../src/limiter/algorithms/fixed-window.ts";
import { gcraStep } from "../../../src/limiter/algorithms/gcra.ts";
import { evaluate } from "../../../src/limiter/model.ts";
import type { LimitCheck } from "../../../src/limiter/types.ts";

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

/** Runs requests at the given times against in-memory state; returns admitted flags. */
function run(checks: LimitCheck[], times: number[], countRejected = false) {
  const state = new Map<string, string>();
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
