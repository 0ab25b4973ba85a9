/** @module bench/report — per-slot measurements → one row per contender and store latency (medians over rounds) → the printed table. */
import { median } from "./harness.ts";

/** Everything measured for one contender at one store latency in one round. */
export interface SlotResult {
  round: number;
  latencyMs: number;
  contender: string;
  /** Fixed connections, as fast as answers come. */
  throughput: {
    rps: number;
    responses: number;
    sent: number;
    /** workerd's CPU time per request sent, in µs (NaN when unknown). */
    cpuUs: number;
    /** Share of responses that were 2xx (the load route never limits, so this should be 1). */
    okShare: number;
    errors: number;
  };
  /** Paced well below capacity: latency without queueing, in ms. */
  latency: { p50: number; p99: number; count: number };
  /** Per throughput request. */
  store: {
    /** HTTP requests reaching the REST endpoint. */
    roundTrips: number;
    /** Redis commands the endpoint forwarded. */
    commands: number;
    /** `INFO commandstats`: commands sent by clients (EVAL/EVALSHA and any others). */
    redisTop: number;
    /** `INFO commandstats`: every call, including those made inside scripts. */
    redisAll: number;
    /** `INFO commandstats` calls by command over the whole throughput run. */
    byCommand: Record<string, number>;
  };
  /** Log lines per throughput request, and lines saying a limiter failed open. */
  logs: { perRequest: number; degraded: number };
  /** The over-limit scenarios; absent for contenders that do not limit. */
  limits?: {
    /** One subject over its limit: 200s counted against the expected number. */
    solo: { admitted: number; expected: number; others: Record<string, number> };
    /** Store round trips per request from a client already refused. */
    blocked: { roundTrips: number; refused: number; sent: number };
    /** Two API keys from one address, one after the other. */
    twoKeys: { admitted: number[]; expected: number[] };
    /** Admissions in these scenarios made without a decision (store past its budget). */
    failedOpen?: number;
  };
}

/** One line of the table: medians over rounds for one contender at one store latency. */
export interface Row {
  latencyMs: number;
  contender: string;
  rps: number;
  /** Throughput over the baseline's in the same round, median of the rounds' ratios. */
  rpsVsBaseline: number;
  cpuUs: number;
  p50: number;
  p99: number;
  /** p50 minus the baseline's p50 in the same round, median over rounds. */
  p50OverBaseline: number;
  roundTrips: number;
  commands: number;
  redisTop: number;
  redisAll: number;
  okShare: number;
  logsPerRequest: number;
  degraded: number;
  /** Absent for contenders that do not limit. */
  limits?: {
    solo: { min: number; max: number; expected: number };
    twoKeys: { min: number[]; max: number[]; expected: number[] };
    blockedRoundTrips: number;
    /** Failed-open admissions in the over-limit scenarios, over all rounds. */
    failedOpen: number;
  };
  /** Rounds that went into the medians. */
  rounds: number;
  bundleGzipKib: number;
}

/**
 * Groups slots by (store latency, contender) and reduces each group to its
 * medians. Comparisons with the baseline are paired within a round, so drift
 * between rounds cancels out instead of adding noise.
 *
 * @example
 * const rows = aggregate(results, "bare", new Map([["bare", 20.1]]));
 */
export function aggregate(
  results: readonly SlotResult[],
  baseline: string,
  bundleGzipKib: ReadonlyMap<string, number> = new Map(),
): Row[] {
  const groups = new Map<string, SlotResult[]>();
  const order: string[] = [];
  for (const r of results) {
    const id = `${r.latencyMs}\u0000${r.contender}`;
    if (!groups.has(id)) {
      groups.set(id, []);
      order.push(id);
    }
    groups.get(id)?.push(r);
  }
  const base = (r: SlotResult) =>
    results.find(
      (b) => b.contender === baseline && b.round === r.round && b.latencyMs === r.latencyMs,
    );
  const rows: Row[] = [];
  for (const id of order) {
    const slots = groups.get(id) ?? [];
    const first = slots[0];
    if (!first) continue;
    const m = (pick: (s: SlotResult) => number) => median(slots.map(pick));
    const paired = (pick: (s: SlotResult, b: SlotResult) => number) =>
      median(
        slots.map((s) => {
          const b = base(s);
          return b ? pick(s, b) : Number.NaN;
        }),
      );
    rows.push({
      latencyMs: first.latencyMs,
      contender: first.contender,
      rps: m((s) => s.throughput.rps),
      rpsVsBaseline: paired((s, b) => s.throughput.rps / b.throughput.rps),
      cpuUs: m((s) => s.throughput.cpuUs),
      p50: m((s) => s.latency.p50),
      p99: m((s) => s.latency.p99),
      p50OverBaseline: paired((s, b) => s.latency.p50 - b.latency.p50),
      roundTrips: m((s) => s.store.roundTrips),
      commands: m((s) => s.store.commands),
      redisTop: m((s) => s.store.redisTop),
      redisAll: m((s) => s.store.redisAll),
      okShare: m((s) => s.throughput.okShare),
      logsPerRequest: m((s) => s.logs.perRequest),
      degraded: slots.reduce((sum, s) => sum + s.logs.degraded, 0),
      ...limitsRow(slots),
      rounds: slots.length,
      bundleGzipKib: bundleGzipKib.get(first.contender) ?? Number.NaN,
    });
  }
  return rows;
}

/** Admissions as the worst and best round saw them; the blocked client's cost as a median. */
function limitsRow(slots: readonly SlotResult[]): Pick<Row, "limits"> {
  const all = slots.flatMap((s) => (s.limits ? [s.limits] : []));
  const first = all[0];
  if (!first) return {};
  const keys = first.twoKeys.expected.length;
  return {
    limits: {
      solo: {
        min: Math.min(...all.map((l) => l.solo.admitted)),
        max: Math.max(...all.map((l) => l.solo.admitted)),
        expected: first.solo.expected,
      },
      twoKeys: {
        min: range(keys).map((i) => Math.min(...all.map((l) => l.twoKeys.admitted[i] ?? 0))),
        max: range(keys).map((i) => Math.max(...all.map((l) => l.twoKeys.admitted[i] ?? 0))),
        expected: first.twoKeys.expected,
      },
      blockedRoundTrips: median(all.map((l) => l.blocked.roundTrips)),
      failedOpen: all.reduce((sum, l) => sum + (l.failedOpen ?? 0), 0),
    },
  };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** `lo` or `lo–hi` when rounds disagreed. */
function spread(lo: number, hi: number): string {
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

function fixed(n: number, digits: number): string {
  return Number.isNaN(n) ? "–" : n.toFixed(digits);
}

function signed(n: number, digits: number): string {
  if (Number.isNaN(n)) return "–";
  return `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(digits)}`;
}

/** Column headers of the table, in order. */
export const COLUMNS = [
  "store",
  "contender",
  "req/s",
  "vs bare",
  "CPU µs/req",
  "ok",
  "p50 ms",
  "p99 ms",
  "p50 over bare",
  "store RT/req",
  "cmds/req",
  "INFO top/req",
  "INFO all/req",
  "admitted (1 subject)",
  "admitted (2 keys, 1 IP)",
  "blocked RT/req",
  "gzip KiB",
] as const;

/** The cells of one row, formatted, in `COLUMNS` order. */
export function formatRow(row: Row): string[] {
  const l = row.limits;
  return [
    `${row.latencyMs} ms`,
    row.contender,
    fixed(row.rps, 0),
    `${fixed(row.rpsVsBaseline * 100, 0)}%`,
    fixed(row.cpuUs, 0),
    `${fixed(row.okShare * 100, 0)}%`,
    fixed(row.p50, 2),
    fixed(row.p99, 2),
    signed(row.p50OverBaseline, 2),
    fixed(row.roundTrips, 2),
    fixed(row.commands, 2),
    fixed(row.redisTop, 2),
    fixed(row.redisAll, 2),
    l ? `${spread(l.solo.min, l.solo.max)}/${l.solo.expected}` : "–",
    l
      ? `${l.twoKeys.min.map((lo, i) => spread(lo, l.twoKeys.max[i] ?? lo)).join("+")}/${l.twoKeys.expected.join("+")}`
      : "–",
    l ? fixed(l.blockedRoundTrips, 2) : "–",
    fixed(row.bundleGzipKib, 1),
  ];
}

/**
 * A Markdown table, columns padded so it also reads well in a terminal;
 * numbers are right-aligned.
 *
 * @example
 * console.log(formatTable(rows));
 */
export function formatTable(rows: readonly Row[]): string {
  const cells = [COLUMNS.slice() as string[], ...rows.map(formatRow)];
  const widths = COLUMNS.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  const numeric = COLUMNS.map((_, c) => c >= 2);
  const line = (r: string[]) =>
    `| ${r.map((v, c) => (numeric[c] ? v.padStart(widths[c] ?? 0) : v.padEnd(widths[c] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, c) => (numeric[c] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  const [head, ...body] = cells;
  return [line(head ?? []), rule, ...body.map(line)].join("\n");
}

/** One of the issue's targets, as measured in this run. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

/** Who is held to the targets, and who they are measured against. */
export interface TargetNames {
  subject: string;
  baseline: string;
  roundTrip: string;
  peers: readonly string[];
}

/** The benchmark's contenders in their roles: Sluice as configured by default is the subject. */
export const TARGET_NAMES: TargetNames = {
  subject: "sluice",
  baseline: "bare",
  roundTrip: "bare-1rt",
  peers: ["upstash-ratelimit", "hono-rate-limiter"],
};

/**
 * The benchmark issue's targets for `subject` (Sluice), read off the rows of
 * one run. "One store round trip" is what the `roundTrip` contender (bare plus
 * one raw store request) pays over `baseline` at the same store latency.
 *
 * @example
 * for (const t of checkTargets(rows)) console.log(t.met ? "met" : "missed", t.target, t.measured);
 * checkTargets(rows, { ...TARGET_NAMES, subject: "sluice-quiet" }); // the same targets for another configuration
 */
export function checkTargets(
  rows: readonly Row[],
  names: TargetNames = TARGET_NAMES,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const find = (contender: string, latencyMs: number) =>
    rows.find((r) => r.contender === contender && r.latencyMs === latencyMs);
  const latencies = [...new Set(rows.map((r) => r.latencyMs))].sort((a, b) => a - b);
  for (const latencyMs of latencies) {
    const s = find(names.subject, latencyMs);
    if (!s) continue;
    const at = `at ${latencyMs} ms`;
    checks.push({
      target: `1 store round trip and 1 Redis command per request ${at}`,
      measured: `${fixed(s.roundTrips, 2)} and ${fixed(s.commands, 2)}`,
      met: Math.abs(s.roundTrips - 1) < 0.005 && Math.abs(s.commands - 1) < 0.005,
    });
    if (s.limits) {
      checks.push({
        target: `0 store calls for an already-blocked client ${at}`,
        measured: fixed(s.limits.blockedRoundTrips, 2),
        met: s.limits.blockedRoundTrips === 0,
      });
      const exact =
        s.limits.solo.min === s.limits.solo.expected &&
        s.limits.solo.max === s.limits.solo.expected &&
        s.limits.twoKeys.expected.every(
          (e, i) => s.limits?.twoKeys.min[i] === e && s.limits?.twoKeys.max[i] === e,
        );
      const open = s.limits.failedOpen > 0 ? ` (${s.limits.failedOpen} failed open)` : "";
      checks.push({
        target: `admitted exactly as expected in every round ${at}`,
        measured: `${spread(s.limits.solo.min, s.limits.solo.max)}/${s.limits.solo.expected}; ${s.limits.twoKeys.min.map((lo, i) => spread(lo, s.limits?.twoKeys.max[i] ?? lo)).join("+")}/${s.limits.twoKeys.expected.join("+")}${open}`,
        met: exact,
      });
    }
    const rt = find(names.roundTrip, latencyMs);
    if (rt) {
      const budget = rt.p50OverBaseline + 1;
      checks.push({
        target: `p50 over ${names.baseline} ≤ one store round trip + 1 ms ${at} (≤ ${fixed(budget, 2)} ms)`,
        measured: `${signed(s.p50OverBaseline, 2)} ms (${signed(s.p50OverBaseline - budget, 2)} ms against the target)`,
        met: s.p50OverBaseline <= budget,
      });
    }
    if (latencyMs === 0) {
      checks.push({
        target: `throughput ≥ 85% of ${names.baseline} ${at}`,
        measured: `${fixed(s.rpsVsBaseline * 100, 0)}%`,
        met: s.rpsVsBaseline >= 0.85,
      });
      for (const peer of names.peers) {
        const p = find(peer, latencyMs);
        if (!p) continue;
        checks.push({
          target: `throughput above ${peer} ${at}`,
          measured: `${fixed(s.rps, 0)} vs ${fixed(p.rps, 0)} req/s (${fixed((s.rps / p.rps) * 100, 0)}%)`,
          met: s.rps > p.rps,
        });
      }
    }
  }
  return checks;
}

/** The checks as Markdown list lines. */
export function formatTargets(checks: readonly TargetCheck[]): string {
  return checks.map((c) => `- ${c.met ? "met" : "MISSED"}: ${c.target}: ${c.measured}`).join("\n");
}
