/**
 * @module test/node/respond/ratelimit-semantics — every RateLimit field Sluice
 * emits, parsed with an RFC 9651 parser and held to draft-ietf-httpapi-ratelimit-headers-11
 * by replaying the limiter itself: `q/w` is the exact rate, `r ≤ q`, `r` requests
 * are admitted now, no more than `r` within `t`, a denial's `t` is when it admits.
 */
import fc from "fast-check";
import { type BareItem, type Item, parseList, Token } from "structured-headers";
import { describe, expect, it } from "vitest";
import { evaluate } from "../../../src/limiter/model.ts";
import type { Decision, LimitCheck } from "../../../src/limiter/types.ts";
import type { Algorithm } from "../../../src/policy/types.ts";
import { rateLimitHeaders, retryAfterSeconds } from "../../../src/respond/headers.ts";

type Limit = Omit<LimitCheck, "key">;
type Store = Map<string, string>;

const ALGORITHMS: Algorithm[] = [
  "gcra",
  "token-bucket",
  "fixed-window",
  "sliding-window",
  "sliding-log",
];
const BUCKETS = new Set<Algorithm>(["gcra", "token-bucket"]);

/** One limit of a rule; windows and logs take no burst (policy validation). */
function limit(
  algorithm: Algorithm,
  count: number,
  periodMs: number,
  burst = count,
  cost = 1,
): Limit {
  const id = `${algorithm}-${count}-${periodMs}-${burst}-${cost}`;
  return { id, algorithm, count, periodMs, burst: BUCKETS.has(algorithm) ? burst : count, cost };
}

/** Decides one request of a rule against `store`, committing as a store would. */
function decide(store: Store, limits: readonly Limit[], nowMs: number, countRejected = false) {
  const checks = limits.map((l) => ({ ...l, key: l.id }));
  const { decision, writes } = evaluate(
    checks,
    checks.map((c) => store.get(c.key)),
    nowMs,
    countRejected,
  );
  for (const w of writes) store.set(w.key, w.value);
  return decision;
}

/** Requests one limit alone admits from `store` at `atMs`, as fast as it will, without going past `untilMs`. */
function greedy(store: Store, l: Limit, fromMs: number, untilMs: number, cap: number): number {
  const own = new Map(store);
  let admitted = 0;
  for (let at = fromMs; at < untilMs && admitted <= cap; at++) {
    while (admitted <= cap && decide(own, [l], at).allowed) admitted++;
  }
  return admitted;
}

const str = (v: BareItem): string => {
  if (typeof v !== "string") throw new Error(`expected an sf-string, got ${String(v)}`);
  return v;
};
const int = (params: Map<string, BareItem>, key: string): number | undefined => {
  const v = params.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) throw new Error(`${key} is not an sf-integer`);
  return v;
};

interface Parsed {
  id: string;
  q: number;
  w: number;
  qu: string | undefined;
  r: number;
  t: number;
}

/** Both fields through `structured-headers`, with -11's syntax rules checked on the way. */
function parseFields(decision: Decision): Parsed[] {
  const fields = Object.fromEntries(rateLimitHeaders(decision, { legacy: false }));
  const policy = parseList(fields["RateLimit-Policy"] as string);
  const state = parseList(fields.RateLimit as string);
  expect(policy.length).toBe(decision.limits.length);
  expect(state.length).toBe(policy.length);
  return policy.map((member, i) => {
    // -11 §3, §4: Lists of Items whose value is a String, never Inner Lists.
    const [value, params] = member as Item;
    const [stateValue, stateParams] = state[i] as Item;
    expect(Array.isArray(value)).toBe(false);
    expect(str(stateValue)).toBe(str(value));
    const qu = params.get("qu");
    if (qu !== undefined) expect(qu).not.toBeInstanceOf(Token);
    const parsed = {
      id: str(value),
      q: int(params, "q") as number,
      w: int(params, "w") as number,
      qu: qu === undefined ? undefined : str(qu),
      r: int(stateParams, "r") as number,
      t: int(stateParams, "t") as number,
    };
    expect(parsed.q).toBeGreaterThanOrEqual(0); // §3.1.1 REQUIRED, non-negative
    expect(parsed.w).toBeGreaterThan(0); // §3.1.3 non-zero
    expect(parsed.r).toBeGreaterThanOrEqual(0); // §4.1.1 REQUIRED
    expect(parsed.t).toBeGreaterThanOrEqual(0); // §4.1.2
    return parsed;
  });
}

/** Holds one decision's fields to what the limiter will actually do next. */
function checkSemantics(store: Store, limits: readonly Limit[], decision: Decision, nowMs: number) {
  const parsed = parseFields(decision);
  expect(new Set(parsed.map((p) => p.id)).size).toBe(parsed.length);
  parsed.forEach((p, i) => {
    const l = limits[i] as Limit;
    const state = decision.limits[i];
    // q/w is the sustained rate in requests of this cost, exactly.
    expect(p.q * l.periodMs * l.cost).toBe(p.w * 1000 * l.count);
    // A burst is advertised: q covers what is admitted at once from idle.
    expect(p.q).toBeGreaterThanOrEqual(Math.floor(l.burst / l.cost));
    expect(p.r).toBeLessThanOrEqual(p.q);
    expect(p.qu).toBe(l.cost === 1 ? undefined : "requests");
    if (state?.allowed) {
      // r requests are available now, and no more than r within t (§4.1.2).
      expect(greedy(store, l, nowMs, nowMs + 1, p.r)).toBeGreaterThanOrEqual(p.r);
      expect(greedy(store, l, nowMs, nowMs + p.t * 1000, p.r)).toBeLessThanOrEqual(p.r);
    } else {
      // A denying limit: r is 0, t is when it admits, never later than Retry-After (§6).
      expect(p.r).toBe(0);
      expect(p.t).toBeLessThanOrEqual(retryAfterSeconds(decision.retryAfterMs));
      expect(
        greedy(store, l, nowMs + p.t * 1000, nowMs + p.t * 1000 + 1, 1),
      ).toBeGreaterThanOrEqual(1);
    }
  });
}

/** Requests at the given gaps (ms), each decision's fields checked against the store after it. */
function run(limits: readonly Limit[], gapsMs: readonly number[], countRejected = false): void {
  const store: Store = new Map();
  let now = 1_780_000_000_000;
  for (const gap of gapsMs) {
    now += gap;
    const decision = decide(store, limits, now, countRejected);
    checkSemantics(store, limits, decision, now);
  }
}

const burstOf = (n: number) => Array.from({ length: n }, () => 0);

describe("RateLimit fields hold to the draft, for every algorithm", () => {
  it.each(ALGORITHMS)("%s: a burst, then steady requests, then idle", (algorithm) => {
    run([limit(algorithm, 5, 2000, 8)], [...burstOf(10), 150, 150, 400, 900, 2500]);
  });

  it.each(ALGORITHMS)("%s: a cost of 3 (counted in requests, qu declared)", (algorithm) => {
    run([limit(algorithm, 10, 1000, 12, 3)], [...burstOf(5), 100, 250, 700]);
  });

  it.each(ALGORITHMS)("%s: a sub-second period (10/500ms)", (algorithm) => {
    run([limit(algorithm, 10, 500)], [...burstOf(12), 30, 60, 500]);
  });

  it.each(ALGORITHMS)("%s: several limits, one denying", (algorithm) => {
    const limits = [
      limit(algorithm, 3, 1000, 4),
      limit("gcra", 20, 60_000),
      limit("fixed-window", 7, 3000),
    ];
    run(limits, [...burstOf(9), 200, 600, 1200]);
  });

  it.each(ALGORITHMS)("%s: countRejected keeps t honest while hammering", (algorithm) => {
    run([limit(algorithm, 2, 1000, 3)], [...burstOf(6), 100, 100, 1000], true);
  });

  it("advertises the bundled default rule (20/s burst 40) as q=40;w=2, r ≤ 40", () => {
    const store: Store = new Map();
    const l = limit("gcra", 20, 1000, 40);
    const d = decide(store, [l], 0);
    expect(Object.fromEntries(rateLimitHeaders(d, { legacy: false }))).toEqual({
      "RateLimit-Policy": `"${l.id}";q=40;w=2`,
      RateLimit: `"${l.id}";r=39;t=0`,
    });
  });

  it("holds for random limits and traces (fast-check)", () => {
    const arb = fc.record({
      algorithm: fc.constantFrom(...ALGORITHMS),
      count: fc.integer({ min: 1, max: 12 }),
      periodMs: fc.constantFrom(250, 500, 1000, 1500, 2000, 3000),
      extraBurst: fc.integer({ min: 0, max: 6 }),
      cost: fc.integer({ min: 1, max: 3 }),
      countRejected: fc.boolean(),
      gaps: fc.array(fc.integer({ min: 0, max: 1200 }), { minLength: 1, maxLength: 14 }),
    });
    fc.assert(
      fc.property(arb, (c) => {
        const burst = c.count + c.extraBurst;
        const cost = Math.min(c.cost, BUCKETS.has(c.algorithm) ? burst : c.count);
        run([limit(c.algorithm, c.count, c.periodMs, burst, cost)], c.gaps, c.countRejected);
      }),
      { numRuns: 150 },
    );
  });
});
