/** @module test/node/respond/headers — RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11), legacy fields, Retry-After. */
import { describe, expect, it } from "vitest";
import type { Decision, LimitState } from "../../../src/limiter/types.ts";
import {
  RATELIMIT_DRAFT,
  rateLimitHeaders,
  retryAfterSeconds,
} from "../../../src/respond/headers.ts";

/** A limit state from seconds, as the draft's examples are written. */
const limit = (
  id: string,
  q: number,
  w: number,
  r: number,
  t: number,
  allowed = true,
): LimitState => ({
  id,
  count: q,
  periodMs: w * 1000,
  burst: q,
  cost: 1,
  algorithm: "gcra",
  remaining: r,
  resetMs: t * 1000,
  allowed,
});

const decision = (...limits: LimitState[]): Decision => ({
  allowed: limits.every((l) => l.allowed),
  retryAfterMs: 0,
  limits,
});

const fields = (d: Decision, legacy = false) => Object.fromEntries(rateLimitHeaders(d, { legacy }));

describe("rateLimitHeaders — the draft's own examples, byte for byte", () => {
  it("implements draft -11", () => {
    expect(RATELIMIT_DRAFT).toBe("draft-ietf-httpapi-ratelimit-headers-11");
  });

  // [section of draft-11, limits, RateLimit-Policy as printed, RateLimit as printed]
  it.each<[string, LimitState[], string | null, string | null]>([
    ["§3.2", [limit("default", 100, 10, 50, 30)], '"default";q=100;w=10', null],
    ["§4 / §4.2", [limit("default", 100, 10, 50, 30)], null, '"default";r=50;t=30'],
    ["§6", [limit("problemPolicy", 10, 10, 0, 10)], null, '"problemPolicy";r=0;t=10'],
    ["§7", [limit("default", 10, 10, 1, 7)], null, '"default";r=1;t=7'],
    ["§8.5", [limit("daily", 10, 86400, 1, 86400)], null, '"daily";r=1;t=86400'],
    [
      "§8.5",
      [limit("somepolicy", 10000, 1000, 10000, 10)],
      '"somepolicy";q=10000;w=1000',
      '"somepolicy";r=10000;t=10',
    ],
    ["B.1.1", [limit("default", 100, 60, 0, 50)], null, '"default";r=0;t=50'],
    ["B.1.1", [limit("default", 100, 60, 0, 48)], null, '"default";r=0;t=48'],
    ["B.1.2", [limit("dayLimit", 5000, 86400, 100, 36000)], null, '"dayLimit";r=100;t=36000'],
    ["B.1.3", [limit("basic", 100, 60, 60, 58)], '"basic";q=100;w=60', '"basic";r=60;t=58'],
    ["B.1.3", [limit("basic", 100, 60, 20, 56)], '"basic";q=100;w=60', '"basic";r=20;t=56'],
    ["B.1.4", [limit("default", 100, 60, 0, 5, false)], null, '"default";r=0;t=5'],
    [
      "B.2.1",
      [limit("fixedwindow", 100, 60, 99, 50)],
      '"fixedwindow";q=100;w=60',
      '"fixedwindow";r=99;t=50',
    ],
    ["B.2.2", [limit("dynamic", 100, 60, 9, 50)], '"dynamic";q=100;w=60', '"dynamic";r=9;t=50'],
    ["B.2.3", [limit("dynamic", 15, 20, 0, 20)], '"dynamic";q=15;w=20', '"dynamic";r=0;t=20'],
    ["B.3", [limit("dynamic", 100, 60, 15, 40)], '"dynamic";q=100;w=60', '"dynamic";r=15;t=40'],
    [
      "B.3.1",
      [limit("hour", 1000, 3600, 900, 1800), limit("day", 5000, 86400, 100, 36000)],
      '"hour";q=1000;w=3600, "day";q=5000;w=86400',
      '"hour";r=900;t=1800, "day";r=100;t=36000',
    ],
  ])("%s", (_section, limits, policy, state) => {
    const out = fields(decision(...limits));
    if (policy !== null) expect(out["RateLimit-Policy"]).toBe(policy);
    if (state !== null) expect(out.RateLimit).toBe(state);
  });

  // The draft prints some Lists with "," and others with ", " (B.3.1). RFC 9651 §4.1.1
  // serialises with ", " and parsers skip the optional space, so these differ only there.
  it.each<[string, string, LimitState[], string]>([
    [
      "-08 §3, -10 §3, -11 §3",
      "RateLimit-Policy",
      [limit("burst", 100, 60, 100, 0), limit("daily", 1000, 86400, 1000, 0)],
      '"burst";q=100;w=60,"daily";q=1000;w=86400',
    ],
    [
      "-08 §3.2, -10 §3.2, -11 §3.2",
      "RateLimit-Policy",
      [limit("permin", 50, 60, 50, 0), limit("perhr", 1000, 3600, 1000, 0)],
      '"permin";q=50;w=60,"perhr";q=1000;w=3600',
    ],
  ])("%s multi-item %s, modulo the space after commas", (_drafts, name, limits, printed) => {
    const value = fields(decision(...limits))[name];
    expect(value).toBe(printed.replaceAll(",", ", "));
  });

  it("keeps the same item syntax as drafts -08 and -10 for the shared examples", () => {
    // These examples read identically in -08 §3.2/§4.2, -10 §3.2/§4.2 and -11 §3.2/§4.2.
    const out = fields(decision(limit("default", 100, 10, 50, 30)));
    expect(out).toEqual({
      "RateLimit-Policy": '"default";q=100;w=10',
      RateLimit: '"default";r=50;t=30',
    });
  });
});

describe("rateLimitHeaders — numbers and names", () => {
  const one = (l: Partial<LimitState>) => fields(decision({ ...limit("a", 10, 1, 5, 1), ...l }));

  it.each([
    [0, "0"],
    [1, "1"],
    [999, "1"],
    [1000, "1"],
    [1001, "2"],
    [59_999, "60"],
    [-5, "0"],
    [Number.NaN, "0"],
  ])("t: resetMs %s → %s (rounded up, 0 allowed by -11 §4.1.2)", (resetMs, t) => {
    expect(one({ resetMs }).RateLimit).toBe(`"a";r=5;t=${t}`);
  });

  it.each([
    [0, "1"],
    [1, "1"],
    [1000, "1"],
    [1500, "2"],
    [60_000, "60"],
    [86_400_000, "86400"],
  ])("w: periodMs %s → %s (rounded up, non-zero per -11 §3.1.3)", (periodMs, w) => {
    expect(one({ periodMs })["RateLimit-Policy"]).toBe(`"a";q=10;w=${w}`);
  });

  it.each([
    [0, "0"],
    [2.7, "2"],
    [-3, "0"],
    [1e18, "999999999999999"], // RFC 9651 §3.3.1 sf-integer range
  ])("r: remaining %s → %s", (remaining, r) => {
    expect(one({ remaining }).RateLimit).toBe(`"a";r=${r};t=1`);
  });

  it("emits q as a non-negative integer", () => {
    expect(one({ count: 12.9 })["RateLimit-Policy"]).toBe('"a";q=12;w=1');
  });

  it("escapes quotes and backslashes in names (RFC 9651 §4.1.6)", () => {
    expect(one({ id: 'we"ird\\' })["RateLimit-Policy"]).toBe('"we\\"ird\\\\";q=10;w=1');
  });

  it("refuses names outside printable ASCII", () => {
    expect(() => one({ id: "naïve" })).toThrow(/ERR_SLUICE_SF_STRING/);
    expect(() => one({ id: "a\nb" })).toThrow(/ERR_SLUICE_SF_STRING/);
  });

  it("emits nothing for a decision without limits", () => {
    expect(rateLimitHeaders(decision(), { legacy: true })).toEqual([]);
  });

  it("emits exactly the two IETF fields without legacy", () => {
    const names = rateLimitHeaders(decision(limit("a", 1, 1, 1, 1)), { legacy: false }).map(
      ([n]) => n,
    );
    expect(names).toEqual(["RateLimit-Policy", "RateLimit"]);
  });
});

describe("rateLimitHeaders — legacy X-RateLimit-*", () => {
  it("describes the limit with the lowest remaining, Reset in delta-seconds", () => {
    const out = fields(
      decision(limit("second", 10, 1, 7, 0.3), limit("hour", 1000, 3600, 3, 1200.5)),
      true,
    );
    expect(out["X-RateLimit-Limit"]).toBe("1000");
    expect(out["X-RateLimit-Remaining"]).toBe("3");
    expect(out["X-RateLimit-Reset"]).toBe("1201");
  });

  it("prefers a denying limit over an admitting one with less remaining", () => {
    const out = fields(
      decision(limit("burst", 10, 1, 1, 1), limit("cost", 100, 60, 4, 30, false)),
      true,
    );
    expect(out["X-RateLimit-Limit"]).toBe("100");
    expect(out["X-RateLimit-Remaining"]).toBe("4");
    expect(out["X-RateLimit-Reset"]).toBe("30");
  });

  it("breaks a tie on remaining by the longer reset", () => {
    const out = fields(decision(limit("a", 10, 1, 0, 1), limit("b", 50, 60, 0, 45)), true);
    expect(out["X-RateLimit-Limit"]).toBe("50");
    expect(out["X-RateLimit-Reset"]).toBe("45");
  });

  it("still emits the IETF fields alongside", () => {
    const out = fields(decision(limit("a", 10, 1, 4, 1)), true);
    expect(Object.keys(out)).toEqual([
      "RateLimit-Policy",
      "RateLimit",
      "X-RateLimit-Limit",
      "X-RateLimit-Remaining",
      "X-RateLimit-Reset",
    ]);
  });
});

describe("retryAfterSeconds (RFC 9110 §10.2.3)", () => {
  it.each([
    [0, 1],
    [-100, 1],
    [Number.NaN, 1],
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [1999.5, 2],
    [2000, 2],
    [60_000, 60],
    [60_001, 61],
    [Number.POSITIVE_INFINITY, 2 ** 31],
  ])("%s ms → %s s", (ms, s) => {
    expect(retryAfterSeconds(ms)).toBe(s);
    expect(Number.isInteger(retryAfterSeconds(ms))).toBe(true);
  });
});
