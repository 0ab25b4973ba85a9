/** @module test/node/bench/harness — the benchmark's own arithmetic: percentiles, medians, Redis counters, schedule, expected admissions, policy. */
import { describe, expect, it } from "vitest";
import {
  callsBetween,
  commandDelta,
  estimateSeconds,
  expectedAdmitted,
  median,
  medianInterval,
  parseCommandstats,
  parseNumberList,
  parseUploadSize,
  percentile,
  perRequest,
  primaryConnections,
  SCRIPT_CALLS,
  schedule,
  summarizeLatency,
  summarizeProfile,
  totalCalls,
  windowWaitMs,
} from "../../../bench/harness.ts";
import { BENCH_RULES, sluicePolicy } from "../../../bench/limits.ts";
import { compileMatcher } from "../../../src/policy/match.ts";
import { validatePolicy } from "../../../src/policy/validate.ts";

describe("median", () => {
  it("takes the middle value, or the mean of the middle two", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it("ignores NaN and is NaN with nothing to go on", () => {
    expect(median([Number.NaN, 2, 4])).toBe(3);
    expect(median([])).toBeNaN();
    expect(median([Number.NaN])).toBeNaN();
  });

  it("leaves its input in order", () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe("medianInterval", () => {
  const rounds = [0.98, 1.01, 0.97, 1.03, 1.0, 0.99, 1.02, 0.96, 1.04, 1.0, 0.95];

  it("brackets the median with values the rounds took", () => {
    const [low, high] = medianInterval(rounds);
    expect(low).toBeLessThanOrEqual(median(rounds));
    expect(high).toBeGreaterThanOrEqual(median(rounds));
    expect(rounds).toContain(low);
    expect(rounds).toContain(high);
    expect(low).toBeLessThan(high);
  });

  it("is the same from the same results and seed", () => {
    expect(medianInterval(rounds)).toEqual(medianInterval(rounds));
    expect(medianInterval(rounds, 2000, 7)).toEqual(medianInterval(rounds, 2000, 7));
  });

  it("is one point when every round agrees, and narrows as rounds agree more", () => {
    expect(medianInterval([1.1, 1.1, 1.1])).toEqual([1.1, 1.1]);
    const wide = medianInterval([0.7, 1.3, 0.8, 1.2, 1.0]);
    const narrow = medianInterval([0.97, 1.03, 0.98, 1.02, 1.0]);
    expect(narrow[1] - narrow[0]).toBeLessThan(wide[1] - wide[0]);
  });

  it("is NaN with nothing to go on", () => {
    expect(medianInterval([])).toEqual([Number.NaN, Number.NaN]);
  });
});

describe("percentile", () => {
  const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);

  it("is the nearest rank: the smallest value with p% at or below it", () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0.5)).toBe(1);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
  });

  it("is NaN for no values and refuses percentiles outside (0, 100]", () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
});

describe("summarizeLatency", () => {
  it("sorts the samples and keeps fractions of a millisecond", () => {
    const samples = [2.75, 0.31, 1.5, 9.99, 1.25];
    expect(summarizeLatency(samples)).toEqual({ count: 5, p50: 1.5, p99: 9.99 });
  });

  it("puts the slow tail in p99, not p50", () => {
    const samples = [...Array(98).fill(1.1), 40, 50];
    const s = summarizeLatency(samples);
    expect(s.p50).toBeCloseTo(1.1);
    expect(s.p99).toBe(40);
  });
});

// As redis-server 7.0 prints it (CRLF line ends, fields after calls=).
const INFO_BEFORE = [
  "# Commandstats",
  "cmdstat_evalsha:calls=10,usec=120,usec_per_call=12.00,rejected_calls=0,failed_calls=0",
  "cmdstat_get:calls=20,usec=30,usec_per_call=1.50,rejected_calls=0,failed_calls=0",
  "cmdstat_info:calls=4,usec=400,usec_per_call=100.00,rejected_calls=0,failed_calls=0",
  "",
].join("\r\n");
const INFO_AFTER = [
  "# Commandstats",
  "cmdstat_evalsha:calls=110,usec=1320,usec_per_call=12.00,rejected_calls=7,failed_calls=0",
  "cmdstat_get:calls=220,usec=330,usec_per_call=1.50,rejected_calls=0,failed_calls=0",
  "cmdstat_script|load:calls=3,usec=90,usec_per_call=30.00,rejected_calls=0,failed_calls=0",
  "cmdstat_info:calls=5,usec=500,usec_per_call=100.00,rejected_calls=0,failed_calls=0",
  "",
].join("\r\n");

describe("commandstats", () => {
  it("reads calls per command, subcommands included", () => {
    const calls = parseCommandstats(INFO_AFTER);
    expect(Object.fromEntries(calls)).toEqual({
      evalsha: 110,
      get: 220,
      "script|load": 3,
      info: 5,
    });
  });

  it("ignores everything that is not a cmdstat line", () => {
    expect(parseCommandstats("# Server\nredis_version:7.0.15\nuptime_in_seconds:3\n").size).toBe(0);
  });

  it("diffs two snapshots, leaving out the harness's own INFO calls", () => {
    const delta = commandDelta(parseCommandstats(INFO_BEFORE), parseCommandstats(INFO_AFTER));
    expect(Object.fromEntries(delta)).toEqual({ evalsha: 100, get: 200, "script|load": 3 });
    expect(totalCalls(delta)).toBe(303);
    expect(totalCalls(delta, SCRIPT_CALLS)).toBe(100);
  });

  it("refuses a snapshot that went backwards (a restarted server)", () => {
    expect(() =>
      commandDelta(parseCommandstats(INFO_AFTER), parseCommandstats(INFO_BEFORE)),
    ).toThrow(/backwards for evalsha/);
  });

  it("counts per request, and not at all without requests", () => {
    expect(perRequest(300, 100)).toBe(3);
    expect(perRequest(5, 0)).toBeNaN();
  });
});

describe("parseUploadSize", () => {
  it("reads wrangler's dry-run summary", () => {
    const output = [
      " ⛅️ wrangler 4.155.0",
      "Total Upload: 404.25 KiB / gzip: 83.49 KiB",
      "Your Worker has access to the following bindings:",
    ].join("\n");
    expect(parseUploadSize(output)).toEqual({ kib: 404.25, gzipKib: 83.49 });
  });

  it("converts MiB and returns undefined when there is no summary", () => {
    expect(parseUploadSize("Total Upload: 1.50 MiB / gzip: 300.00 KiB")).toEqual({
      kib: 1536,
      gzipKib: 300,
    });
    expect(parseUploadSize("✘ [ERROR] Build failed")).toBeUndefined();
  });
});

describe("schedule", () => {
  const contenders = ["bare", "sluice", "peer"];

  it("runs every contender once per round, store latency and number of connections", () => {
    const slots = schedule(3, [0, 5], [1, 32], contenders);
    expect(slots).toHaveLength(36);
    for (const round of [0, 1, 2]) {
      for (const latencyMs of [0, 5]) {
        for (const connections of [1, 32]) {
          const names = slots
            .filter(
              (s) =>
                s.round === round && s.latencyMs === latencyMs && s.connections === connections,
            )
            .map((s) => s.contender);
          expect([...names].sort()).toEqual([...contenders].sort());
        }
      }
    }
  });

  it("rotates who goes first each round, and keeps latencies, then connections, in blocks", () => {
    const slots = schedule(3, [0, 5], [1, 32], contenders);
    const firsts = [0, 1, 2].map((round) => slots.find((s) => s.round === round)?.contender);
    expect(firsts).toEqual(["bare", "sluice", "peer"]);
    expect(slots.slice(0, 12).map((s) => `${s.latencyMs}/${s.connections}`)).toEqual([
      ...Array(3).fill("0/1"),
      ...Array(3).fill("0/32"),
      ...Array(3).fill("5/1"),
      ...Array(3).fill("5/32"),
    ]);
  });

  it("leaves out the points where a contender does not run, and only those", () => {
    const slots = schedule(2, [0, 5], [1, 32], contenders, (c, ms, n) =>
      c === "peer" ? ms === 0 : c !== "sluice" || n === 32,
    );
    const where = (c: string) =>
      slots
        .filter((s) => s.contender === c)
        .map((s) => `${s.round}:${s.latencyMs}/${s.connections}`);
    expect(where("peer")).toEqual(["0:0/1", "0:0/32", "1:0/1", "1:0/32"]);
    expect(where("sluice")).toEqual(["0:0/32", "0:5/32", "1:0/32", "1:5/32"]);
    expect(where("bare")).toHaveLength(8);
  });
});

describe("parseNumberList", () => {
  it("reads a comma-separated list, keeping its order and dropping repeats", () => {
    expect(parseNumberList("1, 8,32,128", "--connections", { min: 1, integer: true })).toEqual([
      1, 8, 32, 128,
    ]);
    expect(parseNumberList("20,0,5,0", "--latencies", { min: 0 })).toEqual([20, 0, 5]);
    expect(parseNumberList("2.5", "--latencies", { min: 0 })).toEqual([2.5]);
  });

  it("refuses empty items, words, values below the minimum and fractions where whole numbers are due", () => {
    const conns = { min: 1, integer: true };
    expect(() => parseNumberList("1,,8", "--connections", conns)).toThrow(/--connections/);
    expect(() => parseNumberList("eight", "--connections", conns)).toThrow(/whole numbers ≥ 1/);
    expect(() => parseNumberList("0,8", "--connections", conns)).toThrow(/"0,8"/);
    expect(() => parseNumberList("1.5", "--connections", conns)).toThrow();
    expect(() => parseNumberList("-5", "--latencies", { min: 0 })).toThrow(/numbers ≥ 0/);
  });
});

describe("primaryConnections", () => {
  it("is the preferred count when the sweep has it, else the largest", () => {
    expect(primaryConnections([1, 8, 32, 128], 32)).toBe(32);
    expect(primaryConnections([128, 1, 8], 32)).toBe(128);
    expect(primaryConnections([4], 32)).toBe(4);
    expect(() => primaryConnections([], 32)).toThrow();
  });
});

describe("windowWaitMs", () => {
  const minute = 60_000;
  const t = 1_700_000_040_000; // a whole minute

  it("does not wait when the window has room for the scenario", () => {
    expect(windowWaitMs(t, minute, 10_000)).toBe(0);
    expect(windowWaitMs(t + 50_000, minute, 10_000)).toBe(0);
  });

  it("waits until just after the next window starts when it has not", () => {
    expect(windowWaitMs(t + 50_001, minute, 10_000)).toBe(9_999 + 50);
    expect(windowWaitMs(t + 59_999, minute, 10_000)).toBe(1 + 50);
    expect(windowWaitMs(t + 5_000, 10_000, 6_000)).toBe(5_050);
  });
});

describe("estimateSeconds", () => {
  const run = { contenders: 2, bundles: 2, warmupSec: 1, slots: 10, durationSec: 2, scenarios: 1 };

  it("adds bundling, start-up, warm-ups, points and scenarios", () => {
    // 12 + 10 + 3 + 25 + 3.
    expect(estimateSeconds(run)).toBe(53);
  });

  it("grows with each part of the run", () => {
    const base = estimateSeconds(run);
    expect(estimateSeconds({ ...run, slots: 20 })).toBe(base + 25);
    expect(estimateSeconds({ ...run, durationSec: 3 })).toBe(base + 10);
    expect(estimateSeconds({ ...run, scenarios: 2 })).toBeGreaterThan(base);
    expect(estimateSeconds({ ...run, bundles: 3 })).toBeGreaterThan(base);
  });
});

describe("callsBetween", () => {
  it("sums each object's calls between two snapshots, new objects from zero", () => {
    const before = new Map([
      ["load", 100],
      ["tight", 7],
    ]);
    const after = new Map([
      ["load", 160],
      ["tight", 7],
      ["load-2", 15],
    ]);
    expect(callsBetween(before, after)).toBe(75);
    expect(callsBetween(new Map(), after)).toBe(182);
  });

  it("counts a restarted object (its count went down) from its restart", () => {
    expect(callsBetween(new Map([["load", 500]]), new Map([["load", 40]]))).toBe(40);
  });
});

describe("expectedAdmitted", () => {
  it("is the key's limit for one subject over it", () => {
    expect(expectedAdmitted({ key: 50, ip: 80 }, [500])).toEqual([50]);
    expect(expectedAdmitted({ key: 50, ip: 80 }, [20])).toEqual([20]);
  });

  it("gives later keys on a shared address what the earlier ones left", () => {
    expect(expectedAdmitted({ key: 50, ip: 80 }, [250, 250])).toEqual([50, 30]);
    expect(expectedAdmitted({ key: 50, ip: 80 }, [250, 250, 250])).toEqual([50, 30, 0]);
    expect(expectedAdmitted({ key: 50, ip: 40 }, [250, 250])).toEqual([40, 0]);
  });
});

describe("the benchmark's Sluice policy", () => {
  const result = validatePolicy(sluicePolicy(BENCH_RULES));

  it("is valid", () => {
    expect(result.ok ? [] : result.issues).toEqual([]);
  });

  it("carries the same limits as the peers get, key first, on the same routes", () => {
    if (!result.ok) throw new Error("invalid policy");
    const match = compileMatcher(result.policy.rules);
    for (const [name, path] of [
      ["load", "/api/load"],
      ["tight", "/tight/solo"],
    ] as const) {
      const rule = match("GET", path);
      expect(rule?.name).toBe(name);
      const spec = BENCH_RULES[name];
      expect(
        rule?.limits.map((l) => [l.by.kind, l.count, l.periodMs, l.burst, l.algorithm]),
      ).toEqual([
        ["apiKey", spec.key.count, spec.key.periodMs, spec.key.count, "gcra"],
        ["ip", spec.ip.count, spec.ip.periodMs, spec.ip.count, "gcra"],
      ]);
    }
    expect(match("GET", "/elsewhere")).toBeUndefined();
  });

  it("logs every decision by default, and with logAllowed off is the same policy but quiet", () => {
    if (!result.ok) throw new Error("invalid policy");
    expect(result.policy.log.allowed).toBe(true);
    const quiet = validatePolicy(sluicePolicy(BENCH_RULES, { logAllowed: false }));
    if (!quiet.ok) throw new Error(JSON.stringify(quiet.issues));
    expect(quiet.policy.log.allowed).toBe(false);
    expect({ ...quiet.policy, log: result.policy.log }).toEqual(result.policy);
  });
});

describe("summarizeProfile", () => {
  const frame = (functionName: string) => ({
    functionName,
    url: "",
    lineNumber: -1,
    columnNumber: -1,
  });
  // (root) → a → b → a (recursion), and (root) → c.
  const profile = {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 4] },
      { id: 2, callFrame: frame("a"), children: [3] },
      { id: 3, callFrame: frame("b"), children: [5] },
      { id: 4, callFrame: frame("c") },
      { id: 5, callFrame: frame("a") },
    ],
    samples: [5, 3, 2, 4],
  };

  it("splits samples into time in a function and time under it, counting recursion once", () => {
    const byName = Object.fromEntries(
      summarizeProfile(profile, (f) => f.functionName).map((e) => [e.name, [e.self, e.total]]),
    );
    expect(byName).toEqual({
      "(root)": [0, 1],
      a: [0.5, 0.75],
      b: [0.25, 0.5],
      c: [0.25, 0.25],
    });
  });

  it("merges frames the labeller names alike, and sorts by total", () => {
    const entries = summarizeProfile(profile, (f) =>
      f.functionName === "c" ? "b" : f.functionName,
    );
    expect(entries.map((e) => e.name)).toEqual(["(root)", "a", "b"]);
    expect(entries[2]).toEqual({ name: "b", self: 0.5, total: 0.75 });
  });
});
