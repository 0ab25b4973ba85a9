/** @module test/node/respond/headers — RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11), legacy fields, Retry-After, merging with the origin's fields. */
import { describe, expect, it } from "vitest";
import type { Decision, LimitState } from "../../../src/limiter/types.ts";
import {
  addHeaders,
  advertise,
  RATELIMIT_DRAFT,
  rateLimitHeaders,
  retryAfterSeconds,
} from "../../../src/respond/headers.ts";

/**
 * A fixed window's state from seconds, as the draft's examples are written:
 * a window is the one algorithm whose quota is plainly "q per w".
 */
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
  algorithm: "fixed-window",
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

/** Any algorithm's state, for the tables below. */
const state = (l: Partial<LimitState> & Pick<LimitState, "algorithm">): LimitState => ({
  id: "a",
  count: 10,
  periodMs: 1000,
  burst: l.burst ?? l.count ?? 10,
  cost: 1,
  remaining: 5,
  resetMs: 0,
  allowed: true,
  ...l,
});
const ad = (l: Partial<LimitState> & Pick<LimitState, "algorithm">) => {
  const { id: _id, ...rest } = advertise(state(l));
  return rest;
};

describe("advertise — q, w: the burst and the seconds to give it back", () => {
  it.each<[string, Partial<LimitState>, { q: number; w: number }]>([
    ["5/min", { count: 5, periodMs: 60_000 }, { q: 5, w: 60 }],
    ["1000/day", { count: 1000, periodMs: 86_400_000 }, { q: 1000, w: 86_400 }],
    ["20/s burst 40 (the bundled default)", { count: 20, burst: 40 }, { q: 40, w: 2 }],
    ["50/s burst 100", { count: 50, burst: 100 }, { q: 100, w: 2 }],
    [
      "10/500ms: scaled to whole seconds, never q=10;w=1",
      { count: 10, periodMs: 500 },
      { q: 20, w: 1 },
    ],
    ["10/1500ms", { count: 10, periodMs: 1500 }, { q: 20, w: 3 }],
    ["3/s burst 4: the smallest whole window", { count: 3, burst: 4 }, { q: 12, w: 4 }],
    ["1/1ms", { count: 1, periodMs: 1 }, { q: 1000, w: 1 }],
  ])("%s", (_name, l, expected) => {
    expect(ad({ algorithm: "gcra", ...l })).toMatchObject(expected);
  });

  it.each<[string, Partial<LimitState>, { q: number; w: number; r: number; qu: string }]>([
    [
      "cost 2 on 2/s burst 4: 2 requests per 2 s",
      { count: 2, burst: 4, cost: 2, remaining: 2 },
      { q: 2, w: 2, r: 1, qu: "requests" },
    ],
    [
      "cost 3 on 10/s burst 12",
      { count: 10, burst: 12, cost: 3, remaining: 7 },
      { q: 20, w: 6, r: 2, qu: "requests" },
    ],
    [
      "cost 2 on 5/s: the window grows until q is whole",
      { count: 5, cost: 2, remaining: 5 },
      { q: 5, w: 2, r: 2, qu: "requests" },
    ],
  ])("%s (counted in requests, qu declared)", (_name, l, expected) => {
    expect(ad({ algorithm: "token-bucket", ...l })).toMatchObject(expected);
  });

  it("declares no qu when a request costs one unit", () => {
    expect(ad({ algorithm: "gcra" })).not.toHaveProperty("qu");
  });

  it("keeps q/w the exact rate for huge bursts, within sf-integer range", () => {
    const { q, w } = ad({ algorithm: "gcra", count: 7, burst: 1e12, periodMs: 86_399_999 });
    expect(q).toBeLessThanOrEqual(999_999_999_999_999);
    expect(w).toBeLessThanOrEqual(999_999_999_999_999);
    expect(q / w).toBeLessThanOrEqual(7 / 86_399.999);
  });
});

describe("advertise — r never exceeds q, whatever the burst", () => {
  it.each(["gcra", "token-bucket"] as const)("%s with a full burst of 40 on 20/s", (algorithm) => {
    expect(ad({ algorithm, count: 20, burst: 40, remaining: 40 })).toMatchObject({ q: 40, r: 40 });
    expect(ad({ algorithm, count: 20, burst: 40, remaining: 39 })).toMatchObject({ q: 40, r: 39 });
  });

  it.each([
    [0, 0],
    [2.7, 2],
    [-3, 0],
    [1e18, 10],
  ])("r: remaining %s → %s (floored, never above q)", (remaining, r) => {
    expect(ad({ algorithm: "fixed-window", remaining, resetMs: 500 }).r).toBe(r);
  });
});

describe("advertise — t, the seconds within which no more than r can be used (-11 §4.1.2)", () => {
  it.each<[string, Partial<LimitState> & Pick<LimitState, "algorithm">, number]>([
    [
      "gcra 5/min after one request: the next comes back in 12 s",
      { algorithm: "gcra", count: 5, periodMs: 60_000, remaining: 4, resetMs: 12_000 },
      12,
    ],
    [
      "gcra 1000/day after one request: 86.4 s, rounded down",
      { algorithm: "gcra", count: 1000, periodMs: 86_400_000, remaining: 999, resetMs: 86_400 },
      86,
    ],
    [
      "gcra 20/s burst 40 after one request: back within 50 ms",
      { algorithm: "gcra", count: 20, burst: 40, remaining: 39, resetMs: 50 },
      0,
    ],
    [
      "gcra 5/min, full: one comes back 12 s after it is used",
      { algorithm: "gcra", count: 5, periodMs: 60_000, remaining: 5, resetMs: 0 },
      12,
    ],
    [
      "token-bucket 5/min, cost 2, 3 units left: the 4th unit is back in 12 s",
      {
        algorithm: "token-bucket",
        count: 5,
        periodMs: 60_000,
        burst: 5,
        cost: 2,
        remaining: 3,
        resetMs: 24_000,
      },
      12,
    ],
    [
      "fixed-window: until the window closes",
      { algorithm: "fixed-window", count: 100, periodMs: 60_000, remaining: 60, resetMs: 58_000 },
      58,
    ],
    [
      "fixed-window, 1.5 s left: rounded down",
      { algorithm: "fixed-window", remaining: 3, resetMs: 1500 },
      1,
    ],
    [
      "fixed-window not yet open: a whole period once it opens",
      { algorithm: "fixed-window", count: 3, periodMs: 10_000, remaining: 3, resetMs: 0 },
      10,
    ],
    [
      "sliding-window: units may come back any moment",
      { algorithm: "sliding-window", count: 3, periodMs: 10_000, remaining: 2, resetMs: 17_000 },
      0,
    ],
    [
      "sliding-log: units may come back any moment",
      { algorithm: "sliding-log", count: 3, periodMs: 60_000, remaining: 1, resetMs: 60_000 },
      0,
    ],
  ])("%s → %s", (_name, l, t) => {
    expect(ad(l).t).toBe(t);
  });

  it.each([
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [59_999, 60],
    [Number.NaN, 1],
  ])("a denying limit: resetMs %s → t %s, rounded up like Retry-After", (resetMs, t) => {
    for (const algorithm of ["gcra", "fixed-window", "sliding-log"] as const) {
      expect(ad({ algorithm, remaining: 0, resetMs, allowed: false }).t).toBe(t);
    }
  });
});

describe("rateLimitHeaders — names and shapes", () => {
  const one = (l: Partial<LimitState>) =>
    fields(decision(state({ algorithm: "fixed-window", resetMs: 1000, ...l })));

  it("escapes quotes and backslashes in names (RFC 9651 §4.1.6)", () => {
    expect(one({ id: 'we"ird\\' })["RateLimit-Policy"]).toBe('"we\\"ird\\\\";q=10;w=1');
  });

  it("refuses names outside printable ASCII", () => {
    expect(() => one({ id: "naïve" })).toThrow(/ERR_SLUICE_SF_STRING/);
    expect(() => one({ id: "a\nb" })).toThrow(/ERR_SLUICE_SF_STRING/);
  });

  it("puts qu in the policy item of a limit with a cost", () => {
    const out = fields(
      decision(
        state({
          algorithm: "gcra",
          id: "c",
          count: 2,
          burst: 4,
          cost: 2,
          remaining: 2,
          resetMs: 1000,
        }),
      ),
    );
    expect(out["RateLimit-Policy"]).toBe('"c";q=2;qu="requests";w=2');
    expect(out.RateLimit).toBe('"c";r=1;t=1');
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
  it("describes the limit with the fewest requests left, as q, r and t", () => {
    const out = fields(
      decision(limit("second", 10, 1, 7, 0.3), limit("hour", 1000, 3600, 3, 1200.5)),
      true,
    );
    expect(out["X-RateLimit-Limit"]).toBe("1000");
    expect(out["X-RateLimit-Remaining"]).toBe("3");
    expect(out["X-RateLimit-Reset"]).toBe("1200");
  });

  it("prefers a denying limit over an admitting one that waits longer", () => {
    const out = fields(
      decision(limit("minute", 10, 60, 0, 50), limit("cost", 100, 60, 0, 30, false)),
      true,
    );
    expect(out["X-RateLimit-Limit"]).toBe("100");
    expect(out["X-RateLimit-Remaining"]).toBe("0");
    expect(out["X-RateLimit-Reset"]).toBe("30");
  });

  it("breaks a tie on remaining by the longer wait", () => {
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

describe("addHeaders — the origin's RateLimit fields are kept (-11 §7.2)", () => {
  const ours: Array<[string, string]> = [
    ["RateLimit-Policy", '"ip-1s";q=40;w=2'],
    ["RateLimit", '"ip-1s";r=39;t=0'],
    ["Server-Timing", "sluice-store;dur=3"],
  ];

  it("adds Sluice's items after the origin's, in both fields", () => {
    const h = new Headers({
      "RateLimit-Policy": '"origin-quota";q=1000;w=3600',
      RateLimit: '"origin-quota";r=999;t=3599',
      "Server-Timing": "db;dur=12",
    });
    addHeaders(h, ours);
    expect(h.get("RateLimit-Policy")).toBe('"origin-quota";q=1000;w=3600, "ip-1s";q=40;w=2');
    expect(h.get("RateLimit")).toBe('"origin-quota";r=999;t=3599, "ip-1s";r=39;t=0');
    expect(h.get("Server-Timing")).toBe("db;dur=12, sluice-store;dur=3");
  });

  it("keeps an origin List sent as several field lines (RFC 9651 §3.1)", () => {
    const h = new Headers();
    h.append("RateLimit", "hourly;r=10;t=60");
    h.append("RateLimit", '"daily";r=100;t=600');
    addHeaders(h, ours);
    expect(h.get("RateLimit")).toBe('hourly;r=10;t=60, "daily";r=100;t=600, "ip-1s";r=39;t=0');
  });

  it("renames a Sluice item whose id the origin uses, in both fields alike", () => {
    const h = new Headers({ RateLimit: 'ip-1s;r=5;t=9, "x, y";r=1' });
    addHeaders(h, ours);
    expect(h.get("RateLimit")).toBe('ip-1s;r=5;t=9, "x, y";r=1, "sluice:ip-1s";r=39;t=0');
    expect(h.get("RateLimit-Policy")).toBe('"sluice:ip-1s";q=40;w=2');
  });

  it("replaces an origin value that is not a List rather than make Sluice's unreadable", () => {
    const h = new Headers({ RateLimit: '"unterminated;r=1' });
    addHeaders(h, ours);
    expect(h.get("RateLimit")).toBe('"ip-1s";r=39;t=0');
  });

  it("sets the fields on a response that has none", () => {
    const h = new Headers();
    addHeaders(h, ours);
    expect(h.get("RateLimit")).toBe('"ip-1s";r=39;t=0');
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
