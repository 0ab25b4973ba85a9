/** @module test/node/limiter/adaptive — the adaptive controller's reference model: decrease, increase, dead band, hold, bounds, pause, lapse. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AdaptiveConfig,
  adaptiveIn,
  adaptiveStep,
  EMPTY_REPORT,
  FULL_PPM,
  type HealthReport,
  scaleLimit,
} from "../../../src/limiter/adaptive.ts";

const T = 1_780_000_000_000;

/** Round numbers so each expectation can be worked out by hand; no settling beyond the hold. */
const cfg: AdaptiveConfig = {
  minPpm: 100_000,
  decreasePpm: 900_000,
  increasePpm: 100_000,
  windowMs: 1000,
  holdMs: 1000,
  errorHighPpm: 50_000,
  errorLowPpm: 10_000,
  slowHighPpm: 200_000,
  slowLowPpm: 10_000,
  minRequests: 10,
  maxPauseMs: 60_000,
  latencyMs: 0,
};

const report = (over: Partial<HealthReport> = {}): HealthReport => ({
  ...EMPTY_REPORT,
  requests: 100,
  ...over,
});
const healthy = report();

/** Reports `r` at `at`, then closes the window `windowMs` later: the result of the judgement. */
function judge(raw: string | null, at: number, r: HealthReport, c = cfg) {
  const first = adaptiveStep(raw, at, c, r);
  return adaptiveStep(first.value, at + c.windowMs, c, EMPTY_REPORT);
}

/** A state whose factor is `factorPpm`, reached by healthy-free overloads from full. */
function stateAt(factorPpm: number, c = cfg): { raw: string; at: number } {
  let raw: string | null = null;
  let at = T;
  for (let i = 0; i < 100; i++) {
    const r = judge(raw, at, report({ errors: 100 }), c);
    raw = r.value;
    at += c.windowMs;
    if (r.factorPpm <= factorPpm) break;
  }
  return { raw: raw as string, at };
}

describe("adaptive controller", () => {
  it("starts at the full rate and keeps it while the origin is healthy", () => {
    expect(adaptiveStep(null, T, cfg, EMPTY_REPORT)).toMatchObject({
      factorPpm: FULL_PPM,
      pauseUntilMs: 0,
    });
    expect(judge(null, T, healthy).factorPpm).toBe(FULL_PPM);
  });

  it("decreases multiplicatively on errors, slowness or push-back over their thresholds", () => {
    expect(judge(null, T, report({ errors: 6 })).factorPpm).toBe(900_000);
    expect(judge(null, T, report({ slow: 21 })).factorPpm).toBe(900_000);
    // Push-back counts against the low error threshold: 2 % is overload.
    expect(judge(null, T, report({ errors: 2, overloaded: 2 })).factorPpm).toBe(900_000);
  });

  it("cuts to the share the origin accepted when it turned away more than the decrease", () => {
    expect(judge(null, T, report({ errors: 60, overloaded: 60 })).factorPpm).toBe(400_000);
  });

  it("increases additively when healthy, and not past the full rate", () => {
    const { raw, at } = stateAt(810_000);
    expect(adaptiveStep(raw, at, cfg, EMPTY_REPORT).factorPpm).toBe(810_000);
    const up = judge(raw, at, healthy);
    expect(up.factorPpm).toBe(910_000);
    expect(judge(up.value, at + 1000, healthy).factorPpm).toBe(FULL_PPM);
  });

  it("holds still in the dead band between the low and high thresholds", () => {
    const { raw, at } = stateAt(810_000);
    for (const r of [
      report({ errors: 3 }),
      report({ slow: 10 }),
      // A little push-back is no overload, but no health either.
      report({ overloaded: 1 }),
      report({ errors: 5, slow: 20 }),
    ]) {
      expect(judge(raw, at, r).factorPpm).toBe(810_000);
    }
  });

  it("judges a window only once it is `windowMs` long and holds `minRequests` requests", () => {
    const a = adaptiveStep(null, T, cfg, report({ requests: 5, errors: 5 }));
    const b = adaptiveStep(a.value, T + 999, cfg, EMPTY_REPORT);
    expect(b.factorPpm).toBe(FULL_PPM);
    const c = adaptiveStep(b.value, T + 2500, cfg, EMPTY_REPORT);
    expect(c.factorPpm).toBe(FULL_PPM);
    const d = adaptiveStep(c.value, T + 4000, cfg, report({ requests: 5 }));
    expect(d.factorPpm).toBe(900_000);
  });

  it("changes at most once per hold, ignoring reports sent under the old factor", () => {
    const slow: AdaptiveConfig = { ...cfg, holdMs: 3000 };
    const down = judge(null, T, report({ errors: 10 }), slow);
    expect(down.factorPpm).toBe(900_000);
    const changed = T + 1000;
    // The first holdMs − windowMs after the change describe the old rate: ignored.
    let raw = down.value;
    for (const at of [changed + 500, changed + 1999]) {
      const r = adaptiveStep(raw, at, slow, report({ errors: 100 }));
      expect(r.factorPpm).toBe(900_000);
      raw = r.value;
    }
    const next = adaptiveStep(raw, changed + 2000, slow, report({ errors: 10 }));
    expect(adaptiveStep(next.value, changed + 2999, slow, EMPTY_REPORT).factorPpm).toBe(900_000);
    expect(adaptiveStep(next.value, changed + 3000, slow, EMPTY_REPORT).factorPpm).toBe(810_000);
  });

  it("lets responses still slow at the latency target settle too", () => {
    const c: AdaptiveConfig = { ...cfg, latencyMs: 1500 };
    const down = judge(null, T, report({ errors: 10 }), c);
    const changed = T + 1000;
    const ignored = adaptiveStep(down.value, changed + 1499, c, report({ errors: 100 }));
    const counted = adaptiveStep(ignored.value, changed + 1500, c, healthy);
    expect(adaptiveStep(counted.value, changed + 2500, c, EMPTY_REPORT).factorPpm).toBe(1_000_000);
  });

  it("never goes below minPpm", () => {
    let raw: string | null = null;
    let at = T;
    let factor = FULL_PPM;
    for (let i = 0; i < 40; i++) {
      const r = judge(raw, at, report({ errors: 100, overloaded: 100 }));
      raw = r.value;
      factor = r.factorPpm;
      at += 1000;
    }
    expect(factor).toBe(cfg.minPpm);
    // Scaled by a floor raised since the state was written, it reads as the new floor.
    expect(adaptiveStep(raw, at, { ...cfg, minPpm: 300_000 }, EMPTY_REPORT).factorPpm).toBe(
      300_000,
    );
  });

  it("pauses for the origin's Retry-After, decreasing once, and ignores reports meanwhile", () => {
    const p = adaptiveStep(null, T, cfg, report({ errors: 1, overloaded: 1, pauseMs: 5000 }));
    expect(p).toMatchObject({ factorPpm: 900_000, pauseUntilMs: T + 5000 });
    // More 503s in flight during the pause: a longer Retry-After extends it, no second decrease.
    const q = adaptiveStep(p.value, T + 1000, cfg, report({ errors: 100, pauseMs: 8000 }));
    expect(q).toMatchObject({ factorPpm: 900_000, pauseUntilMs: T + 9000 });
    const r = adaptiveStep(q.value, T + 2000, cfg, report({ errors: 100, pauseMs: 1000 }));
    expect(r).toMatchObject({ factorPpm: 900_000, pauseUntilMs: T + 9000 });
    // The window after the pause starts when traffic resumes.
    const after = adaptiveStep(r.value, T + 9000, cfg, healthy);
    expect(after).toMatchObject({ factorPpm: 900_000, pauseUntilMs: 0 });
    expect(adaptiveStep(after.value, T + 10_000, cfg, EMPTY_REPORT).factorPpm).toBe(FULL_PPM);
  });

  it("caps a pause at maxPauseMs", () => {
    const p = adaptiveStep(null, T, cfg, report({ overloaded: 1, pauseMs: 86_400_000 }));
    expect(p.pauseUntilMs).toBe(T + cfg.maxPauseMs);
  });

  it("never lets per-key time run backwards", () => {
    const a = adaptiveStep(null, T + 5000, cfg, report({ errors: 100 }));
    const b = adaptiveStep(a.value, T, cfg, EMPTY_REPORT);
    expect(b.value.endsWith(`:${T + 5000}`)).toBe(true);
    expect(adaptiveStep(b.value, T + 6000, cfg, EMPTY_REPORT).factorPpm).toBe(900_000);
  });

  it("reads anything malformed as no state", () => {
    const fresh = adaptiveStep(null, T, cfg, healthy);
    for (const raw of [
      "",
      "x",
      "900000:1:0:0:0:0:0:0",
      "900000:1:0:0:0:0:0:0:1:1",
      `1000001:${T}:0:0:0:0:0:0:${T}`,
      `900000:${T}:0:0:0:-1:0:0:${T}`,
      `900000:${T}:0:0:0:0:0:0:9007199254740993`,
      `9e5:${T}:0:0:0:0:0:0:${T}`,
      ` 900000:${T}:0:0:0:0:0:0:${T}`,
    ]) {
      expect(adaptiveStep(raw, T, cfg, healthy)).toEqual(fresh);
    }
  });

  it("lapses after ttlMs idle into exactly no state, and lives until then", () => {
    const configArb = fc.record({
      minPpm: fc.integer({ min: 1, max: FULL_PPM }),
      decreasePpm: fc.integer({ min: 1, max: FULL_PPM - 1 }),
      increasePpm: fc.integer({ min: 1, max: FULL_PPM }),
      windowMs: fc.integer({ min: 1, max: 2000 }),
      holdMs: fc.integer({ min: 0, max: 3000 }),
      latencyMs: fc.integer({ min: 0, max: 1500 }),
      maxPauseMs: fc.integer({ min: 0, max: 10_000 }),
    });
    const eventArb = fc.record({
      stepMs: fc.integer({ min: 0, max: 3000 }),
      requests: fc.integer({ min: 0, max: 50 }),
      bad: fc.integer({ min: 0, max: 50 }),
      pauseMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10_000 })),
    });
    fc.assert(
      fc.property(configArb, fc.array(eventArb, { maxLength: 30 }), (over, events) => {
        const c = { ...cfg, ...over, minRequests: 1 };
        let raw: string | null = null;
        let at = T;
        for (const e of events) {
          at += e.stepMs;
          const bad = Math.min(e.bad, e.requests);
          const r = adaptiveStep(raw, at, c, {
            ...{ requests: e.requests, errors: bad, slow: bad, overloaded: bad >> 1 },
            pauseMs: e.pauseMs,
          });
          raw = r.value;
          expect(r.ttlMs).toBeGreaterThanOrEqual(1);
          const lapsed = at + r.ttlMs;
          expect(adaptiveStep(raw, lapsed, c, healthy)).toEqual(
            adaptiveStep(null, lapsed, c, healthy),
          );
          expect(adaptiveIn(raw, lapsed - 1, c)).toEqual({
            factorPpm: r.factorPpm,
            pauseUntilMs: r.pauseUntilMs > lapsed - 1 ? r.pauseUntilMs : 0,
          });
          expect(adaptiveIn(raw, lapsed, c)).toEqual({ factorPpm: FULL_PPM, pauseUntilMs: 0 });
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("scaleLimit", () => {
  it("scales count and burst down, keeping the period", () => {
    const limit = { count: 1000, periodMs: 1000, burst: 2000, cost: 1 };
    expect(scaleLimit(limit, 400_000)).toEqual({ count: 400, periodMs: 1000, burst: 800, cost: 1 });
    expect(scaleLimit(limit, FULL_PPM)).toBe(limit);
    expect(scaleLimit({ count: 7, periodMs: 1000, burst: 7, cost: 1 }, 999_999)).toMatchObject({
      count: 6,
      burst: 6,
    });
  });

  it("never below the cost, so a request stays admissible and a window's count equals its burst", () => {
    expect(scaleLimit({ count: 10, periodMs: 60_000, burst: 10, cost: 3 }, 100_000)).toMatchObject({
      count: 3,
      burst: 3,
    });
  });

  it("is exact for counts whose product with the factor passes 2^53", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: FULL_PPM - 1 }),
        (count, factor) => {
          const want = Number((BigInt(count) * BigInt(factor)) / BigInt(FULL_PPM));
          const got = scaleLimit({ count, periodMs: 1000, burst: count, cost: 1 }, factor);
          expect(got.count).toBe(Math.max(1, want));
          expect(got.burst).toBe(Math.max(1, want));
        },
      ),
    );
  });
});
