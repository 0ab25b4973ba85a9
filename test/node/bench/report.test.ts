/** @module test/node/bench/report — rounds → rows (medians, ratios and differences paired within a round), over-limit results, feature costs, and the tables. */
import { describe, expect, it } from "vitest";
import {
  COLUMNS,
  checkTargets,
  FEATURE_COLUMNS,
  formatFeatures,
  formatLimits,
  formatRow,
  formatTable,
  formatTargets,
  LIMITS_COLUMNS,
  paired,
  type SlotResult,
  summarize,
} from "../../../bench/report.ts";

interface Over {
  latencyMs?: number;
  connections?: number;
  rps?: number;
  p50?: number;
  cpuUs?: number;
  calls?: number;
  admitted?: number;
  pair?: number[];
  blocked?: number;
  scenarios?: boolean;
}

function slot(contender: string, round: number, over: Over = {}): SlotResult {
  const limiting = contender.startsWith("sluice") || contender === "peer";
  return {
    round,
    latencyMs: over.latencyMs ?? 0,
    connections: over.connections ?? 32,
    contender,
    throughput: {
      rps: over.rps ?? 1000,
      responses: 4000,
      sent: 4000,
      cpuUs: over.cpuUs ?? 500,
      okShare: 1,
      errors: 0,
    },
    latency: { p50: over.p50 ?? 2, p99: 9, count: 500 },
    store: {
      calls: over.calls ?? (contender === "bare" ? 0 : 1),
      commands: limiting ? 1 : 0,
      redisTop: limiting ? 1 : 0,
      redisAll: limiting ? 5 : 0,
      byCommand: {},
    },
    logs: { perRequest: 0, degraded: 0 },
    ...(limiting && over.scenarios !== false
      ? {
          limits: {
            solo: { admitted: over.admitted ?? 50, expected: 50, others: { 429: 450 } },
            blocked: { calls: over.blocked ?? 0, refused: 100, sent: 100 },
            twoKeys: { admitted: over.pair ?? [50, 30], expected: [50, 30] },
          },
        }
      : {}),
  };
}

describe("paired", () => {
  const results = [
    slot("bare", 0, { rps: 1000 }),
    slot("sluice", 0, { rps: 900 }),
    slot("bare", 1, { rps: 500 }),
    slot("sluice", 1, { rps: 450 }),
    slot("bare", 2, { rps: 1000 }),
    slot("sluice", 2, { rps: 200 }),
    // Another point, and a round where bare did not run: neither counts.
    slot("bare", 0, { rps: 1, connections: 1 }),
    slot("sluice", 3, { rps: 5000 }),
  ];
  const at = { latencyMs: 0, connections: 32 };

  it("takes the median of the rounds' ratios, at one point, over rounds where both ran", () => {
    // 0.9, 0.9, 0.2 → 0.9; the ratio of the medians would say 0.45.
    const ratio = paired(
      results,
      "sluice",
      "bare",
      at,
      (s, b) => s.throughput.rps / b.throughput.rps,
    );
    expect(ratio).toBeCloseTo(0.9);
  });

  it("is NaN where the two never ran in the same round", () => {
    expect(paired(results, "sluice", "bare-1rt", at, () => 1)).toBeNaN();
    expect(paired(results, "sluice", "bare", { latencyMs: 5, connections: 32 }, () => 1)).toBeNaN();
  });
});

describe("summarize", () => {
  it("compares with bare and with bare-1rt round by round, at each point", () => {
    const results = [
      slot("bare", 0, { rps: 1000, p50: 1 }),
      slot("bare-1rt", 0, { rps: 500, p50: 1.5 }),
      slot("sluice", 0, { rps: 900, p50: 2 }),
      slot("bare", 1, { rps: 500, p50: 3 }),
      slot("bare-1rt", 1, { rps: 400, p50: 3.5 }),
      slot("sluice", 1, { rps: 450, p50: 4.5 }),
      slot("bare", 2, { rps: 1000, p50: 1 }),
      slot("bare-1rt", 2, { rps: 400, p50: 2 }),
      slot("sluice", 2, { rps: 200, p50: 9 }),
    ];
    const { rows } = summarize(results);
    const sluice = rows.find((r) => r.contender === "sluice");
    expect(rows.find((r) => r.contender === "bare")?.rpsVsBaseline).toBe(1);
    expect(sluice?.rps).toBe(450);
    expect(sluice?.rpsVsBaseline).toBeCloseTo(0.9);
    // 900/500, 450/400, 200/400 → 1.125.
    expect(sluice?.rpsVsRoundTrip).toBeCloseTo(1.125);
    // Differences 1, 1.5, 8 → 1.5.
    expect(sluice?.p50OverBaseline).toBeCloseTo(1.5);
    expect(sluice?.rounds).toBe(3);
  });

  it("keeps one row per contender and point, in the order the run met them", () => {
    const results = [
      slot("bare", 0, { connections: 1 }),
      slot("sluice", 0, { connections: 1, scenarios: false }),
      slot("bare", 0),
      slot("sluice", 0),
      slot("bare", 0, { latencyMs: 5, connections: 1 }),
      slot("bare", 1, { connections: 1 }),
    ];
    expect(
      summarize(results).rows.map((r) => `${r.latencyMs}/${r.connections}:${r.contender}`),
    ).toEqual(["0/1:bare", "0/1:sluice", "0/32:bare", "0/32:sluice", "5/1:bare"]);
  });

  it("keeps a store-call count it does not have as unknown, not zero", () => {
    const { rows } = summarize([slot("bare", 0), slot("sluice-do", 0, { calls: Number.NaN })]);
    expect(rows[1]?.calls).toBeNaN();
    expect(formatRow(rows[1] as (typeof rows)[number])[11]).toBe("n/a");
  });

  it("reports the worst and best round's admissions per store latency, whatever the connections", () => {
    const results = [
      slot("bare", 0),
      slot("peer", 0, { connections: 1, scenarios: false }),
      slot("peer", 0, { admitted: 50, pair: [50, 0] }),
      slot("bare", 1),
      slot("peer", 1, { admitted: 53, pair: [50, 2], blocked: 1 }),
      slot("peer", 1, { latencyMs: 5, admitted: 50 }),
    ];
    const { limits } = summarize(results);
    expect(limits.map((l) => `${l.latencyMs}:${l.contender}`)).toEqual(["0:peer", "5:peer"]);
    expect(limits[0]?.solo).toEqual({ min: 50, max: 53, expected: 50 });
    expect(limits[0]?.twoKeys).toEqual({ min: [50, 0], max: [50, 2], expected: [50, 30] });
    expect(limits[0]?.blockedCalls).toBe(0.5);
    expect(limits[0]?.rounds).toBe(2);
    expect(limits[1]?.rounds).toBe(1);
  });

  it("prices a feature as on minus off, paired, where both ran", () => {
    const results = [
      slot("bare", 0),
      slot("sluice", 0, { cpuUs: 1500, rps: 500 }),
      slot("sluice-quiet", 0, { cpuUs: 1300, rps: 550 }),
      slot("sluice", 0, { connections: 1, cpuUs: 2000 }),
      slot("bare", 1),
      slot("sluice", 1, { cpuUs: 1800, rps: 400 }),
      slot("sluice-quiet", 1, { cpuUs: 1500, rps: 500 }),
    ];
    const { features } = summarize(results);
    expect(features).toHaveLength(1);
    expect(features[0]).toMatchObject({
      latencyMs: 0,
      connections: 32,
      on: "sluice",
      off: "sluice-quiet",
      rounds: 2,
    });
    // 200 and 300 µs → 250; 500/550 and 400/500 → (0.909 + 0.8) / 2.
    expect(features[0]?.cpuUs).toBe(250);
    expect(features[0]?.rpsRatio).toBeCloseTo((500 / 550 + 0.8) / 2);
    // Two rounds: the bootstrap's medians range from both at 0.8 to both at 0.909.
    expect(features[0]?.rpsInterval[0]).toBeCloseTo(0.8);
    expect(features[0]?.rpsInterval[1]).toBeCloseTo(500 / 550);
  });
});

describe("the tables", () => {
  const report = summarize([
    slot("bare", 0, { rps: 2000, p50: 1.25, cpuUs: 400 }),
    slot("peer", 0, { rps: 500, p50: 3.5, admitted: 48, pair: [50, 0] }),
    slot("bare", 1, { rps: 2000, p50: 1.25, cpuUs: 400 }),
    slot("peer", 1, { rps: 500, p50: 3.5, admitted: 50, pair: [50, 0], blocked: Number.NaN }),
    slot("sluice", 0, { cpuUs: 900 }),
    slot("sluice-quiet", 0, { cpuUs: 800, rps: 1250 }),
  ]);

  it("writes one cell per column of the sweep", () => {
    const [bare, peer] = report.rows.map(formatRow);
    expect(bare).toHaveLength(COLUMNS.length);
    expect(bare?.slice(0, 6)).toEqual(["0 ms", "32", "bare", "2000", "100%", "–"]);
    expect(peer?.slice(2, 6)).toEqual(["peer", "500", "25%", "–"]);
    expect(peer?.[9]).toBe("+2.25");
  });

  it("writes admissions as worst–best over expected, and an unknown blocked cost as n/a", () => {
    const lines = formatLimits(report.limits).split("\n");
    expect(lines[0]?.split("|").length).toBe(LIMITS_COLUMNS.length + 2);
    const peer = lines.find((l) => l.includes("peer")) ?? "";
    expect(peer).toContain("48–50/50");
    expect(peer).toContain("50+0/50+30");
    // Rounds 0 and NaN: the median of what is known.
    expect(peer).toMatch(/\| +0\.00 \|$/);
  });

  it("writes a feature's cost with its sign", () => {
    const text = formatFeatures(report.features);
    expect(text.split("\n")[0]?.split("|").length).toBe(FEATURE_COLUMNS.length + 2);
    expect(text).toContain("+100");
    expect(text).toContain("80%");
  });

  it("is Markdown whose columns line up, numbers right-aligned", () => {
    const lines = formatTable(report.rows).split("\n");
    expect(lines).toHaveLength(2 + report.rows.length);
    const pipes = (line: string) => [...line].flatMap((ch, i) => (ch === "|" ? [i] : []));
    const header = pipes(lines[0] ?? "");
    expect(header).toHaveLength(COLUMNS.length + 1);
    for (const line of lines) expect(pipes(line)).toEqual(header);
    expect(lines[1]).toMatch(/^\|-+\|-+\|-+\|-+:\|/);
  });
});

/** One round of the sweep at 1 and 32 connections, 0 and 5 ms, with Sluice as given. */
function run(sluice: (latencyMs: number, connections: number) => Over, round = 0): SlotResult[] {
  const results: SlotResult[] = [];
  for (const latencyMs of [0, 5]) {
    for (const connections of [1, 32]) {
      const at = { latencyMs, connections, scenarios: connections === 32 };
      const single = connections === 1;
      results.push(
        slot("bare", round, { ...at, rps: 2000, p50: 1 }),
        slot("bare-1rt", round, { ...at, rps: 1000, p50: single ? 1 + 1 + latencyMs : 9 }),
        slot("upstash-ratelimit", round, { ...at, rps: 800, calls: 1 }),
        slot("hono-rate-limiter", round, { ...at, rps: 600, calls: 2 }),
        slot("sluice", round, { ...at, ...sluice(latencyMs, connections) }),
      );
    }
  }
  return results;
}
const good = (latencyMs: number, connections: number): Over => ({
  rps: latencyMs === 0 ? 1800 : 950,
  p50: connections === 1 ? 1 + 1.4 + latencyMs : 5,
  calls: 0.1,
});

describe("checkTargets", () => {
  it("passes a Sluice that meets every target, and says by how much", () => {
    const checks = checkTargets(summarize([...run(good, 0), ...run(good, 1)]), "sluice");
    expect(checks.filter((c) => c.met !== true)).toEqual([]);
    expect(checks.map((c) => c.target)).toEqual([
      "throughput ≥ 85% of bare at 32 connections, 0 ms",
      "≤ 0.25 store calls per request at 32 connections, 0 ms",
      "p50 over bare ≤ bare-1rt's + 0.5 ms at 1 connection, 0 ms (≤ 1.50 ms)",
      "admitted exactly as expected in every round of the over-limit scenarios at 0 ms",
      "0 store calls for an already-refused client at 0 ms",
      "throughput ≥ 90% of bare-1rt at 32 connections, 5 ms",
      "≤ 0.25 store calls per request at 32 connections, 5 ms",
      "p50 over bare ≤ bare-1rt's + 0.5 ms at 1 connection, 5 ms (≤ 6.50 ms)",
      "admitted exactly as expected in every round of the over-limit scenarios at 5 ms",
      "0 store calls for an already-refused client at 5 ms",
      "throughput above upstash-ratelimit at every point of the sweep",
      "throughput above hono-rate-limiter at every point of the sweep",
    ]);
    expect(checks[0]?.measured).toBe("90% (+5 points against the target)");
    expect(checks[1]?.measured).toBe("0.10 (−0.15 against the target)");
    expect(checks[2]?.measured).toBe("+1.40 ms (−0.10 ms against the target)");
    expect(checks[10]?.measured).toBe(
      "4 of 4 points; lowest 119% of its req/s (1 connection, 5 ms)",
    );
  });

  it("says which targets a slower, chattier, leakier Sluice misses and by how much", () => {
    const bad = (latencyMs: number, connections: number): Over => ({
      rps: latencyMs === 0 ? 1500 : connections === 1 ? 750 : 850,
      p50: connections === 1 ? 1 + 1.6 + latencyMs : 5,
      calls: 1,
      admitted: latencyMs === 5 ? 51 : 50,
      blocked: 0.5,
    });
    const checks = checkTargets(summarize(run(bad)), "sluice");
    const missed = Object.fromEntries(
      checks.filter((c) => c.met === false).map((c) => [c.target, c.measured]),
    );
    expect(missed).toEqual({
      "throughput ≥ 85% of bare at 32 connections, 0 ms": "75% (−10 points against the target)",
      "≤ 0.25 store calls per request at 32 connections, 0 ms": "1.00 (+0.75 against the target)",
      "p50 over bare ≤ bare-1rt's + 0.5 ms at 1 connection, 0 ms (≤ 1.50 ms)":
        "+1.60 ms (+0.10 ms against the target)",
      "0 store calls for an already-refused client at 0 ms": "0.50",
      "throughput ≥ 90% of bare-1rt at 32 connections, 5 ms": "85% (−5 points against the target)",
      "≤ 0.25 store calls per request at 32 connections, 5 ms": "1.00 (+0.75 against the target)",
      "p50 over bare ≤ bare-1rt's + 0.5 ms at 1 connection, 5 ms (≤ 6.50 ms)":
        "+6.60 ms (+0.10 ms against the target)",
      "admitted exactly as expected in every round of the over-limit scenarios at 5 ms":
        "51/50; 50+30/50+30",
      "0 store calls for an already-refused client at 5 ms": "0.50",
      "throughput above upstash-ratelimit at every point of the sweep":
        "below at 1 of 4 points: 94% (1 connection, 5 ms)",
    });
    expect(
      formatTargets(checks)
        .split("\n")
        .filter((l) => l.startsWith("- MISSED: ")),
    ).toHaveLength(10);
  });
});

describe("checkTargets on what a run did not measure", () => {
  it("holds Sluice on its Durable Objects to the points it ran, and says what it cannot count", () => {
    const results = run(good).filter((r) => r.latencyMs === 0 || r.contender !== "sluice");
    for (const r of results) {
      if (r.contender !== "sluice") continue;
      r.contender = "sluice-do";
      r.store.calls = Number.NaN;
      if (r.limits) r.limits.blocked.calls = Number.NaN;
    }
    const checks = checkTargets(summarize(results), "sluice-do");
    // Nothing at 5 ms: it never ran there.
    expect(checks.map((c) => c.target)).toEqual([
      "throughput ≥ 85% of bare at 32 connections, 0 ms",
      "≤ 0.25 store calls per request at 32 connections, 0 ms",
      "p50 over bare ≤ bare-1rt's + 0.5 ms at 1 connection, 0 ms (≤ 1.50 ms)",
      "admitted exactly as expected in every round of the over-limit scenarios at 0 ms",
      "0 store calls for an already-refused client at 0 ms",
      "throughput above upstash-ratelimit at every point of the sweep",
      "throughput above hono-rate-limiter at every point of the sweep",
    ]);
    expect(checks.filter((c) => c.met === undefined)).toEqual([
      {
        target: "≤ 0.25 store calls per request at 32 connections, 0 ms",
        measured: "no count of this store's calls",
        met: undefined,
      },
      {
        target: "0 store calls for an already-refused client at 0 ms",
        measured: "no count of this store's calls",
        met: undefined,
      },
    ]);
    expect(checks.find((c) => c.target.startsWith("throughput above upstash"))?.measured).toBe(
      "2 of 2 points; lowest 225% of its req/s (1 connection, 0 ms)",
    );
    expect(formatTargets(checks)).toContain("- n/a: ≤ 0.25 store calls");
  });

  it("checks nothing for a contender the run did not measure", () => {
    expect(checkTargets(summarize(run(good)), "sluice-do")).toEqual([]);
  });
});
