/** @module test/node/bench/report — rounds → rows (medians, paired ratios, admissions), the table, and the target checks. */
import { describe, expect, it } from "vitest";
import {
  aggregate,
  COLUMNS,
  checkTargets,
  formatRow,
  formatTable,
  type Row,
  type SlotResult,
  TARGET_NAMES,
} from "../../../bench/report.ts";

function slot(
  contender: string,
  round: number,
  over: { latencyMs?: number; rps?: number; p50?: number; admitted?: number; pair?: number[] } = {},
): SlotResult {
  const limiting = contender !== "bare";
  return {
    round,
    latencyMs: over.latencyMs ?? 0,
    contender,
    throughput: {
      rps: over.rps ?? 1000,
      responses: 4000,
      sent: 4000,
      cpuUs: 500,
      okShare: 1,
      errors: 0,
    },
    latency: { p50: over.p50 ?? 2, p99: 9, count: 500 },
    store: {
      roundTrips: limiting ? 1 : 0,
      commands: limiting ? 1 : 0,
      redisTop: limiting ? 1 : 0,
      redisAll: limiting ? 5 : 0,
      byCommand: {},
    },
    logs: { perRequest: 0, degraded: 0 },
    ...(limiting
      ? {
          limits: {
            solo: { admitted: over.admitted ?? 50, expected: 50, others: { 429: 450 } },
            blocked: { roundTrips: 0, refused: 100, sent: 100 },
            twoKeys: { admitted: over.pair ?? [50, 30], expected: [50, 30] },
          },
        }
      : {}),
  };
}

describe("aggregate", () => {
  it("compares with the baseline round by round, not median against median", () => {
    // The machine slows down in round 2: bare and sluice both halve.
    const results = [
      slot("bare", 0, { rps: 1000, p50: 1 }),
      slot("sluice", 0, { rps: 900, p50: 2 }),
      slot("bare", 1, { rps: 500, p50: 3 }),
      slot("sluice", 1, { rps: 450, p50: 4.5 }),
      slot("bare", 2, { rps: 1000, p50: 1 }),
      slot("sluice", 2, { rps: 200, p50: 9 }),
    ];
    const [bare, sluice] = aggregate(results, "bare");
    expect(bare?.rpsVsBaseline).toBe(1);
    expect(sluice?.rps).toBe(450);
    // Ratios 0.9, 0.9, 0.2 → 0.9; the ratio of the medians would say 0.45.
    expect(sluice?.rpsVsBaseline).toBeCloseTo(0.9);
    // Differences 1, 1.5, 8 → 1.5.
    expect(sluice?.p50OverBaseline).toBeCloseTo(1.5);
    expect(sluice?.rounds).toBe(3);
  });

  it("keeps one row per contender and store latency, in first-seen order", () => {
    const results = [
      slot("bare", 0),
      slot("sluice", 0),
      slot("bare", 0, { latencyMs: 5 }),
      slot("sluice", 0, { latencyMs: 5 }),
    ];
    expect(aggregate(results, "bare").map((r) => `${r.latencyMs}:${r.contender}`)).toEqual([
      "0:bare",
      "0:sluice",
      "5:bare",
      "5:sluice",
    ]);
  });

  it("reports the worst and best round's admissions, and none for a non-limiter", () => {
    const results = [
      slot("bare", 0),
      slot("peer", 0, { admitted: 50, pair: [50, 0] }),
      slot("bare", 1),
      slot("peer", 1, { admitted: 53, pair: [50, 2] }),
    ];
    const [bare, peer] = aggregate(results, "bare", new Map([["peer", 12.34]]));
    expect(bare?.limits).toBeUndefined();
    expect(peer?.limits?.solo).toEqual({ min: 50, max: 53, expected: 50 });
    expect(peer?.limits?.twoKeys).toEqual({ min: [50, 0], max: [50, 2], expected: [50, 30] });
    expect(peer?.bundleGzipKib).toBe(12.34);
    expect(bare?.bundleGzipKib).toBeNaN();
  });
});

describe("formatTable", () => {
  const rows = aggregate(
    [
      slot("bare", 0, { rps: 2000, p50: 1.25 }),
      slot("peer", 0, { rps: 500, p50: 3.5, admitted: 48, pair: [50, 0] }),
      slot("bare", 1, { rps: 2000, p50: 1.25 }),
      slot("peer", 1, { rps: 500, p50: 3.5, admitted: 50, pair: [50, 0] }),
    ],
    "bare",
  );

  it("writes one cell per column, dashes where a contender does not limit", () => {
    const [bare, peer] = rows.map(formatRow);
    expect(bare).toHaveLength(COLUMNS.length);
    expect(bare?.slice(13, 16)).toEqual(["–", "–", "–"]);
    expect(peer?.slice(0, 5)).toEqual(["0 ms", "peer", "500", "25%", "500"]);
    expect(peer?.[8]).toBe("+2.25");
    expect(peer?.slice(13, 15)).toEqual(["48–50/50", "50+0/50+30"]);
  });

  it("is a Markdown table whose columns line up", () => {
    const lines = formatTable(rows).split("\n");
    expect(lines).toHaveLength(4);
    const pipes = (line: string) => [...line].flatMap((ch, i) => (ch === "|" ? [i] : []));
    const header = pipes(lines[0] ?? "");
    expect(header).toHaveLength(COLUMNS.length + 1);
    for (const line of lines) expect(pipes(line)).toEqual(header);
    // Numbers right-aligned: the rule row marks those columns.
    expect(lines[1]).toMatch(/^\|-+\|-+\|-+:\|/);
  });
});

describe("checkTargets", () => {
  function row(contender: string, over: Partial<Row> = {}): Row {
    return {
      latencyMs: 0,
      contender,
      rps: 1000,
      rpsVsBaseline: 1,
      cpuUs: 400,
      p50: 1,
      p99: 2,
      p50OverBaseline: 0,
      roundTrips: 0,
      commands: 0,
      redisTop: 0,
      redisAll: 0,
      okShare: 1,
      logsPerRequest: 0,
      degraded: 0,
      rounds: 3,
      bundleGzipKib: 10,
      ...over,
    };
  }
  const limits = {
    solo: { min: 50, max: 50, expected: 50 },
    twoKeys: { min: [50, 30], max: [50, 30], expected: [50, 30] },
    blockedRoundTrips: 0,
    failedOpen: 0,
  };
  const base = [
    row("bare"),
    row("bare-1rt", { rps: 600, rpsVsBaseline: 0.6, p50OverBaseline: 0.8, roundTrips: 1 }),
    row("upstash-ratelimit", { rps: 500, roundTrips: 1, commands: 2 }),
    row("hono-rate-limiter", { rps: 400, roundTrips: 2, commands: 2 }),
  ];

  it("passes a Sluice that meets every target", () => {
    const sluice = row("sluice", {
      rps: 900,
      rpsVsBaseline: 0.9,
      p50OverBaseline: 1.7,
      roundTrips: 1,
      commands: 1,
      limits,
    });
    const checks = checkTargets([...base, sluice]);
    expect(checks.filter((c) => !c.met)).toEqual([]);
    expect(checks).toHaveLength(7);
  });

  it("says which targets a slower, chattier, leakier Sluice misses and by how much", () => {
    const sluice = row("sluice", {
      rps: 450,
      rpsVsBaseline: 0.45,
      p50OverBaseline: 2.3,
      roundTrips: 1.02,
      commands: 1,
      limits: { ...limits, solo: { min: 50, max: 51, expected: 50 }, blockedRoundTrips: 0.5 },
    });
    const missed = checkTargets([...base, sluice]).filter((c) => !c.met);
    expect(missed.map((c) => c.target)).toEqual([
      "1 store round trip and 1 Redis command per request at 0 ms",
      "0 store calls for an already-blocked client at 0 ms",
      "admitted exactly as expected in every round at 0 ms",
      "p50 over bare ≤ one store round trip + 1 ms at 0 ms (≤ 1.80 ms)",
      "throughput ≥ 85% of bare at 0 ms",
      "throughput above upstash-ratelimit at 0 ms",
    ]);
    expect(missed[3]?.measured).toBe("+2.30 ms (+0.50 ms against the target)");
    expect(missed[2]?.measured).toBe("50–51/50; 50+30/50+30");
    expect(missed[5]?.measured).toBe("450 vs 500 req/s (90%)");
  });

  it("says how many over-limit admissions failed open", () => {
    const sluice = row("sluice", {
      roundTrips: 1,
      commands: 1,
      limits: { ...limits, twoKeys: { ...limits.twoKeys, max: [94, 30] }, failedOpen: 44 },
    });
    const admitted = checkTargets([...base, sluice]).find((c) =>
      c.target.startsWith("admitted exactly"),
    );
    expect(admitted).toMatchObject({
      met: false,
      measured: "50/50; 50–94+30/50+30 (44 failed open)",
    });
  });

  it("holds another Sluice configuration to the same targets, read off its own row", () => {
    const sluice = row("sluice", { rps: 450, rpsVsBaseline: 0.45, roundTrips: 1, commands: 1 });
    const quiet = row("sluice-quiet", {
      rps: 550,
      rpsVsBaseline: 0.55,
      roundTrips: 1,
      commands: 1,
      limits,
    });
    const checks = checkTargets([...base, sluice, quiet], {
      ...TARGET_NAMES,
      subject: "sluice-quiet",
    });
    expect(checks).toHaveLength(7);
    expect(checks.filter((c) => !c.met).map((c) => c.target)).toEqual([
      "throughput ≥ 85% of bare at 0 ms",
    ]);
    expect(checks.find((c) => c.target === "throughput above upstash-ratelimit at 0 ms")).toEqual({
      target: "throughput above upstash-ratelimit at 0 ms",
      measured: "550 vs 500 req/s (110%)",
      met: true,
    });
  });
});
