/** @module test/node/bench/report — rounds → rows (medians, ratios and differences paired within a round), over-limit results, feature costs, and the tables. */
import { describe, expect, it } from "vitest";
import {
  COLUMNS,
  FEATURE_COLUMNS,
  formatFeatures,
  formatLimits,
  formatRow,
  formatTable,
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
