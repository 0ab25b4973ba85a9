/** @module test/node/policy/shadow — unreachable rules: the same answers as checking every pair, in work that grows linearly with the rules. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { shadows } from "../../../src/policy/match.ts";
import { firstShadows, type ShadowStats } from "../../../src/policy/shadow.ts";
import type { RuleMatch } from "../../../src/policy/types.ts";
import { validatePolicy } from "../../../src/policy/validate.ts";

/** The definition: the first earlier rule that `shadows` says takes all of a rule's requests. */
function bruteForce(matches: readonly RuleMatch[]): number[] {
  return matches.map((later, j) =>
    matches.findIndex((earlier, i) => i < j && shadows(earlier, later)),
  );
}

const m = (path: string, methods: string[] | null = null): RuleMatch => ({ path, methods });

describe("firstShadows", () => {
  it("names the first earlier rule that covers each rule, or -1", () => {
    const matches = [
      m("/x", ["GET"]),
      m("/api/:id", ["GET"]),
      m("/api/*", ["GET", "POST"]),
      m("/api/x", ["GET"]),
      m("/api/x", ["POST"]),
      m("/api/x"),
      m("/x", ["GET", "POST"]),
      m("*"),
      m("/anything", ["PUT"]),
      m("*"),
    ];
    expect(firstShadows(matches)).toEqual([-1, -1, -1, 1, 2, -1, -1, -1, 7, 7]);
    expect(firstShadows(matches)).toEqual(bruteForce(matches));
  });

  it("agrees with checking every pair on random rule lists", () => {
    const segment = fc.constantFrom("a", "b", "%61", ":id", ":x");
    const path = fc.oneof(
      fc.constant("*"),
      fc.constant("/"),
      fc
        .tuple(fc.array(segment, { minLength: 1, maxLength: 3 }), fc.boolean())
        .map(([segs, prefix]) => `/${segs.join("/")}${prefix ? "/*" : ""}`),
    );
    const methods = fc.option(
      fc.uniqueArray(fc.constantFrom("GET", "POST", "PUT"), { minLength: 1, maxLength: 3 }),
      { nil: null },
    );
    const rules = fc.array(
      fc.record({ path, methods }).map((r) => m(r.path, r.methods)),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(rules, (matches) => {
        expect(firstShadows(matches)).toEqual(bruteForce(matches));
      }),
      { numRuns: 500 },
    );
  });
});

/** Policies of `n` rules in shapes real policies have, each shape at scale. */
const SHAPES: Record<string, (n: number) => RuleMatch[]> = {
  // The audit's reproduction: one prefix per rule.
  prefixes: (n) => Array.from({ length: n }, (_, i) => m(`/p${i}/*`)),
  mixed: (n) =>
    Array.from({ length: n }, (_, i) => {
      switch (i % 5) {
        case 0:
          return m(`/v1/p${i}/:id`, ["GET"]);
        case 1:
          return m(`/v1/p${i}`, ["GET", "POST"]);
        case 2:
          return m(`/:tenant/p${i}/*`);
        case 3:
          return m(`/v1/:kind/p${i}`, ["DELETE"]);
        default:
          return m(`/v1/p${i - 4}/:id`, ["GET"]); // shadowed by case 0
      }
    }),
  // Every later rule is unreachable behind an early catch-all.
  catchAll: (n) => [m("*"), ...Array.from({ length: n - 1 }, (_, i) => m(`/p${i}`))],
  // One path, a distinct method per rule: method lists are indexed too.
  methods: (n) => Array.from({ length: n }, (_, i) => m("/same", [`M${i}`])),
};

function steps(matches: readonly RuleMatch[]): number {
  const stats: ShadowStats = { steps: 0 };
  firstShadows(matches, stats);
  return stats.steps;
}

describe("the unreachable-rule check's cost", () => {
  it.each(Object.keys(SHAPES))("grows linearly with the rules: %s", (shape) => {
    const make = SHAPES[shape];
    if (make === undefined) throw new Error(shape);
    const small = steps(make(1_000));
    const large = steps(make(10_000));
    // Ten times the rules: linear work is about 10×, checking every pair was about 100×.
    expect(large).toBeLessThanOrEqual(11 * small);
    expect(large).toBeLessThanOrEqual(10 * 10_000);
  });

  it("lets validatePolicy read 10,000 rules and 10,000 limits in about ten times 1,000's time", () => {
    const policy = (n: number) => ({
      rules: SHAPES.mixed?.(n).map(({ path, methods }, i) => ({
        name: `r${i}`,
        match: methods === null ? { path } : { path, methods },
        limits: [{ rate: "10/s burst 20; 1000/h", by: i % 2 ? "ip" : "header:x-user" }],
      })),
    });
    // Best of three, so a pause of the (shared, noisy) machine does not decide.
    const time = (n: number) => {
      const raw = policy(n);
      let best = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 3; run++) {
        const start = performance.now();
        const result = validatePolicy(raw);
        best = Math.min(best, performance.now() - start);
        expect(result.ok && result.policy.rules.length).toBe(n);
        expect(result.ok && result.warnings.length).toBe(n / 5);
      }
      return best;
    };
    time(1_000); // warm up the JIT first
    const small = time(1_000);
    const large = time(10_000);
    // Linear is about 10×; quadratic was about 100× (F16: 306 ms for 1,000, 33 s for 10,000).
    expect(large).toBeLessThan(40 * small);
  });
});
