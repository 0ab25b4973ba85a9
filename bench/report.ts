/** @module bench/report — per-slot measurements → one row per point of the sweep (medians over rounds, ratios paired within a round), the over-limit results and the feature costs → the printed tables. */
import { median, medianInterval } from "./harness.ts";

/** Everything measured for one contender at one point (store latency, connections) in one round. */
export interface SlotResult {
  round: number;
  latencyMs: number;
  /** Closed loop: each connection sends its next request when the last one is answered. */
  connections: number;
  contender: string;
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
  /** Response times of the same run, in ms, at full precision. */
  latency: { p50: number; p99: number; count: number };
  /** Per request sent. */
  store: {
    /** Calls to the contender's store: HTTP requests at the REST endpoint, RPCs the limit-store objects received; NaN when there is no honest count. */
    calls: number;
    /** Redis commands the REST endpoint forwarded. */
    commands: number;
    /** `INFO commandstats`: commands sent by clients (EVAL/EVALSHA and any others). */
    redisTop: number;
    /** `INFO commandstats`: every call, including those made inside scripts. */
    redisAll: number;
    /** `INFO commandstats` calls by command over the whole run. */
    byCommand: Record<string, number>;
  };
  /** Log lines per request, and lines saying a limiter failed open. */
  logs: { perRequest: number; degraded: number };
  /** The over-limit scenarios (at one number of connections per store latency); absent otherwise. */
  limits?: {
    /** One subject over its limit: 200s counted against the expected number. */
    solo: { admitted: number; expected: number; others: Record<string, number> };
    /** Store calls per request from a client already refused (NaN when not countable). */
    blocked: { calls: number; refused: number; sent: number };
    /** Two API keys from one address, one after the other. */
    twoKeys: { admitted: number[]; expected: number[] };
    /** Admissions in these scenarios made without a decision (store past its budget). */
    failedOpen?: number;
  };
}

/** Who the rows are measured against. */
export interface Roles {
  /** The floor: a proxy that asks no store. */
  baseline: string;
  /** The floor plus one raw store request per request. */
  roundTrip: string;
  /** The other limiters Sluice is held against. */
  peers: readonly string[];
}

export const ROLES: Roles = {
  baseline: "bare",
  roundTrip: "bare-1rt",
  peers: ["upstash-ratelimit", "hono-rate-limiter"],
};

/** One point of the sweep. */
export interface Point {
  latencyMs: number;
  connections: number;
}

/** One line of the sweep table: medians over rounds for one contender at one point. */
export interface Row extends Point {
  contender: string;
  rps: number;
  /** Throughput over the baseline's at the same point in the same round, median over rounds. */
  rpsVsBaseline: number;
  /** Throughput over the round-trip floor's, paired the same way. */
  rpsVsRoundTrip: number;
  cpuUs: number;
  okShare: number;
  p50: number;
  p99: number;
  /** p50 minus the baseline's p50 at the same point in the same round, median over rounds. */
  p50OverBaseline: number;
  calls: number;
  commands: number;
  redisTop: number;
  redisAll: number;
  logsPerRequest: number;
  degraded: number;
  /** Rounds that went into the medians. */
  rounds: number;
}

/** The over-limit results of one contender at one store latency, over all rounds. */
export interface LimitsRow {
  latencyMs: number;
  contender: string;
  solo: { min: number; max: number; expected: number };
  twoKeys: { min: number[]; max: number[]; expected: number[] };
  /** Median over rounds. */
  blockedCalls: number;
  /** Failed-open admissions in the over-limit scenarios, over all rounds. */
  failedOpen: number;
  rounds: number;
}

/** A feature whose cost is one configuration against another of the same bundle. */
export interface Feature {
  feature: string;
  /** The contender with the feature on. */
  on: string;
  /** The same bundle and policy with the feature off. */
  off: string;
}

export const FEATURES: readonly Feature[] = [
  {
    feature: "decision log line per admitted request (log.allowed)",
    on: "sluice",
    off: "sluice-quiet",
  },
  {
    feature: '"action": "delay" (nothing held under this load)',
    on: "sluice-delay",
    off: "sluice",
  },
  {
    feature: "concurrency cap: a lease taken and given back per request",
    on: "sluice-concurrency",
    off: "sluice",
  },
  {
    feature: "adaptive controller: a report with each decision, limits scaled",
    on: "sluice-adaptive",
    off: "sluice",
  },
  {
    feature: "metrics (counted per isolate, flushed every 5 s)",
    on: "sluice",
    off: "sluice-dark",
  },
  {
    feature: "metrics + tracing (a span per request over OTLP/HTTP)",
    on: "sluice-observed",
    off: "sluice-dark",
  },
];

/** What one feature costs at one point, paired within rounds. */
export interface FeatureRow extends Point {
  feature: string;
  on: string;
  off: string;
  /** workerd CPU µs per request with the feature minus without. */
  cpuUs: number;
  /** Throughput with the feature over without. */
  rpsRatio: number;
  /** A 95 % bootstrap interval of `rpsRatio` over the rounds (`medianInterval`). */
  rpsInterval: [number, number];
  rounds: number;
}

/** The whole run, reduced. */
export interface Report {
  results: readonly SlotResult[];
  rows: Row[];
  limits: LimitsRow[];
  features: FeatureRow[];
}

const pointKey = (latencyMs: number, connections: number) => `${latencyMs}/${connections}`;
const slotKey = (s: Pick<SlotResult, "round" | "latencyMs" | "connections" | "contender">) =>
  `${s.round}\u0000${pointKey(s.latencyMs, s.connections)}\u0000${s.contender}`;

/**
 * The median over rounds of `pick(a's slot, b's slot)` at one point, over
 * the rounds where both ran there; NaN when there is no such round. Drift
 * between rounds cancels out instead of adding noise.
 *
 * @example
 * paired(results, "sluice", "bare", { latencyMs: 0, connections: 32 }, (s, b) => s.throughput.rps / b.throughput.rps);
 */
export function paired(
  results: readonly SlotResult[],
  a: string,
  b: string,
  at: Point,
  pick: (a: SlotResult, b: SlotResult) => number,
): number {
  return median(pairedValues(results, a, b, at, pick));
}

/** `pick(a's slot, b's slot)` for each round where both ran at `at`, in round order. */
export function pairedValues(
  results: readonly SlotResult[],
  a: string,
  b: string,
  at: Point,
  pick: (a: SlotResult, b: SlotResult) => number,
): number[] {
  const bySlot = new Map(results.map((r) => [slotKey(r), r] as const));
  const values: number[] = [];
  for (const s of results) {
    if (
      s.contender !== a ||
      pointKey(s.latencyMs, s.connections) !== pointKey(at.latencyMs, at.connections)
    )
      continue;
    const other = bySlot.get(slotKey({ ...s, contender: b }));
    if (other) values.push(pick(s, other));
  }
  return values;
}

/** Slots grouped by `key`, groups in first-seen order. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values()];
}

/**
 * Reduces a run to its tables: one row per contender and point, the
 * over-limit results per contender and store latency, and the features'
 * costs.
 *
 * @example
 * const report = summarize(results);
 * console.log(formatRows(report.rows));
 */
export function summarize(
  results: readonly SlotResult[],
  roles: Roles = ROLES,
  features: readonly Feature[] = FEATURES,
): Report {
  const rows = groupBy(
    results,
    (r) => `${pointKey(r.latencyMs, r.connections)}\u0000${r.contender}`,
  ).map((slots) => pointRow(results, slots, roles));
  const limits = groupBy(
    results.filter((r) => r.limits),
    (r) => `${r.latencyMs}\u0000${r.contender}`,
  ).map(limitsRow);
  const featureRows: FeatureRow[] = [];
  for (const f of features) {
    for (const at of uniquePoints(results.filter((r) => r.contender === f.on))) {
      const ratios = pairedValues(
        results,
        f.on,
        f.off,
        at,
        (on, off) => on.throughput.rps / off.throughput.rps,
      );
      const rpsRatio = median(ratios);
      if (Number.isNaN(rpsRatio)) continue;
      featureRows.push({
        ...at,
        ...f,
        cpuUs: paired(
          results,
          f.on,
          f.off,
          at,
          (on, off) => on.throughput.cpuUs - off.throughput.cpuUs,
        ),
        rpsRatio,
        rpsInterval: medianInterval(ratios),
        rounds: results.filter(
          (r) =>
            r.contender === f.off &&
            r.latencyMs === at.latencyMs &&
            r.connections === at.connections,
        ).length,
      });
    }
  }
  return { results, rows, limits, features: featureRows };
}

function uniquePoints(results: readonly SlotResult[]): Point[] {
  return groupBy(results, (r) => pointKey(r.latencyMs, r.connections)).map((g) => ({
    latencyMs: g[0]?.latencyMs ?? 0,
    connections: g[0]?.connections ?? 0,
  }));
}

function pointRow(results: readonly SlotResult[], slots: readonly SlotResult[], roles: Roles): Row {
  const first = slots[0] as SlotResult;
  const at = { latencyMs: first.latencyMs, connections: first.connections };
  const m = (pick: (s: SlotResult) => number) => median(slots.map(pick));
  const rpsRatio = (s: SlotResult, b: SlotResult) => s.throughput.rps / b.throughput.rps;
  return {
    ...at,
    contender: first.contender,
    rps: m((s) => s.throughput.rps),
    rpsVsBaseline: paired(results, first.contender, roles.baseline, at, rpsRatio),
    rpsVsRoundTrip: paired(results, first.contender, roles.roundTrip, at, rpsRatio),
    cpuUs: m((s) => s.throughput.cpuUs),
    okShare: m((s) => s.throughput.okShare),
    p50: m((s) => s.latency.p50),
    p99: m((s) => s.latency.p99),
    p50OverBaseline: paired(
      results,
      first.contender,
      roles.baseline,
      at,
      (s, b) => s.latency.p50 - b.latency.p50,
    ),
    calls: m((s) => s.store.calls),
    commands: m((s) => s.store.commands),
    redisTop: m((s) => s.store.redisTop),
    redisAll: m((s) => s.store.redisAll),
    logsPerRequest: m((s) => s.logs.perRequest),
    degraded: slots.reduce((sum, s) => sum + s.logs.degraded, 0),
    rounds: slots.length,
  };
}

/** Admissions as the worst and best round saw them; the blocked client's cost as a median. */
function limitsRow(slots: readonly SlotResult[]): LimitsRow {
  const first = slots[0] as SlotResult;
  const all = slots.flatMap((s) => (s.limits ? [s.limits] : []));
  const expected = all[0] as NonNullable<SlotResult["limits"]>;
  const keys = expected.twoKeys.expected.length;
  return {
    latencyMs: first.latencyMs,
    contender: first.contender,
    solo: {
      min: Math.min(...all.map((l) => l.solo.admitted)),
      max: Math.max(...all.map((l) => l.solo.admitted)),
      expected: expected.solo.expected,
    },
    twoKeys: {
      min: range(keys).map((i) => Math.min(...all.map((l) => l.twoKeys.admitted[i] ?? 0))),
      max: range(keys).map((i) => Math.max(...all.map((l) => l.twoKeys.admitted[i] ?? 0))),
      expected: expected.twoKeys.expected,
    },
    blockedCalls: median(all.map((l) => l.blocked.calls)),
    failedOpen: all.reduce((sum, l) => sum + (l.failedOpen ?? 0), 0),
    rounds: all.length,
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

function percent(ratio: number): string {
  return Number.isNaN(ratio) ? "–" : `${(ratio * 100).toFixed(0)}%`;
}

/** Admissions as `min–max/expected`, keys joined with `+`. */
function admissions(l: Pick<LimitsRow, "solo" | "twoKeys">): { solo: string; twoKeys: string } {
  return {
    solo: `${spread(l.solo.min, l.solo.max)}/${l.solo.expected}`,
    twoKeys: `${l.twoKeys.min.map((lo, i) => spread(lo, l.twoKeys.max[i] ?? lo)).join("+")}/${l.twoKeys.expected.join("+")}`,
  };
}

/** Column headers of the sweep table, in order. */
export const COLUMNS = [
  "store latency",
  "conns",
  "contender",
  "req/s",
  "vs bare",
  "vs bare-1rt",
  "CPU µs/req",
  "ok",
  "p50 ms",
  "p50 over bare",
  "p99 ms",
  "store calls/req",
  "cmds/req",
  "INFO top/req",
  "INFO all/req",
] as const;

/** The cells of one sweep row, formatted, in `COLUMNS` order. */
export function formatRow(row: Row): string[] {
  return [
    `${row.latencyMs} ms`,
    String(row.connections),
    row.contender,
    fixed(row.rps, 0),
    percent(row.rpsVsBaseline),
    percent(row.rpsVsRoundTrip),
    fixed(row.cpuUs, 0),
    percent(row.okShare),
    fixed(row.p50, 2),
    signed(row.p50OverBaseline, 2),
    fixed(row.p99, 2),
    Number.isNaN(row.calls) ? "n/a" : row.calls.toFixed(2),
    fixed(row.commands, 2),
    fixed(row.redisTop, 2),
    fixed(row.redisAll, 2),
  ];
}

export const LIMITS_COLUMNS = [
  "store latency",
  "contender",
  "admitted (1 subject)",
  "admitted (2 keys, 1 IP)",
  "failed open",
  "blocked calls/req",
] as const;

/** The cells of one over-limit row, in `LIMITS_COLUMNS` order. */
export function formatLimitsRow(row: LimitsRow): string[] {
  const a = admissions(row);
  return [
    `${row.latencyMs} ms`,
    row.contender,
    a.solo,
    a.twoKeys,
    String(row.failedOpen),
    Number.isNaN(row.blockedCalls) ? "n/a" : row.blockedCalls.toFixed(2),
  ];
}

export const FEATURE_COLUMNS = [
  "store latency",
  "conns",
  "feature",
  "on",
  "off",
  "CPU µs/req",
  "req/s on ÷ off",
  "95% interval",
] as const;

/** The cells of one feature row, in `FEATURE_COLUMNS` order. */
export function formatFeatureRow(row: FeatureRow): string[] {
  return [
    `${row.latencyMs} ms`,
    String(row.connections),
    row.feature,
    row.on,
    row.off,
    signed(row.cpuUs, 0),
    percent(row.rpsRatio),
    `${percent(row.rpsInterval[0])}–${percent(row.rpsInterval[1])}`,
  ];
}

/**
 * A Markdown table, columns padded so it also reads well in a terminal;
 * columns from `numericFrom` on are right-aligned.
 *
 * @example
 * console.log(markdownTable(COLUMNS, report.rows.map(formatRow), 3));
 */
export function markdownTable(
  columns: readonly string[],
  body: readonly string[][],
  numericFrom: number,
): string {
  const cells = [columns.slice(), ...body];
  const widths = columns.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  const numeric = columns.map((_, c) => c >= numericFrom);
  const line = (r: readonly string[]) =>
    `| ${r.map((v, c) => (numeric[c] ? v.padStart(widths[c] ?? 0) : v.padEnd(widths[c] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, c) => (numeric[c] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(columns), rule, ...body.map(line)].join("\n");
}

/** The sweep table. */
export function formatTable(rows: readonly Row[]): string {
  return markdownTable(COLUMNS, rows.map(formatRow), 3);
}

/** The over-limit table. */
export function formatLimits(rows: readonly LimitsRow[]): string {
  return markdownTable(LIMITS_COLUMNS, rows.map(formatLimitsRow), 2);
}

/** The feature-cost table. */
export function formatFeatures(rows: readonly FeatureRow[]): string {
  return markdownTable(FEATURE_COLUMNS, rows.map(formatFeatureRow), 5);
}

/** The targets of the issue "Decisions under load", as numbers. */
export const TARGETS = {
  /** Where throughput against the floors and store calls are held. */
  connections: 32,
  /** At 0 ms: at least this share of bare's throughput. */
  vsBaseline: 0.85,
  /** At every injected store latency: at least this share of bare-1rt's throughput. */
  vsRoundTrip: 0.9,
  /** At most this many store calls per request. */
  callsPerRequest: 0.25,
  /** At one connection: p50 over bare at most bare-1rt's p50 over bare plus this, in ms. */
  p50SlackMs: 0.5,
} as const;

export type Targets = typeof TARGETS;

/** One target as measured in this run; `met` is undefined when the run cannot tell. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | undefined;
}

/**
 * The issue's targets for one Sluice contender, read off a run: throughput
 * against bare at 0 ms and against bare-1rt at each injected latency (at 32
 * connections), store calls per request (at 32 connections), p50 at one
 * connection, exact admissions and no store call for a refused client at
 * each store latency, and throughput above each peer at every point both
 * ran. A point the run did not measure is left out; a count the run has no
 * honest source for is `n/a`.
 *
 * @example
 * for (const t of checkTargets(report, "sluice")) console.log(t.met, t.target, t.measured);
 */
export function checkTargets(
  report: Report,
  subject: string,
  roles: Roles = ROLES,
  targets: Targets = TARGETS,
): TargetCheck[] {
  const latencies = [
    ...new Set(report.rows.filter((r) => r.contender === subject).map((r) => r.latencyMs)),
  ].sort((a, b) => a - b);
  const checks = latencies.flatMap((latencyMs) =>
    latencyChecks(report, subject, latencyMs, roles, targets),
  );
  for (const peer of roles.peers) {
    const check = peerCheck(report, subject, peer);
    if (check) checks.push(check);
  }
  return checks;
}

function find(report: Report, contender: string, latencyMs: number, connections: number) {
  return report.rows.find(
    (r) => r.contender === contender && r.latencyMs === latencyMs && r.connections === connections,
  );
}

/** Share `ratio` against `goal`, with the margin in percentage points. */
function share(ratio: number, goal: number): Pick<TargetCheck, "measured" | "met"> {
  if (Number.isNaN(ratio)) return { measured: "no paired round", met: undefined };
  return {
    measured: `${percent(ratio)} (${signed((ratio - goal) * 100, 0)} points against the target)`,
    met: ratio >= goal,
  };
}

/** The checks at one store latency. */
function latencyChecks(
  report: Report,
  subject: string,
  latencyMs: number,
  roles: Roles,
  targets: Targets,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const at = `at ${targets.connections} connections, ${latencyMs} ms`;
  const loaded = find(report, subject, latencyMs, targets.connections);
  if (loaded && latencyMs === 0) {
    checks.push({
      target: `throughput ≥ ${percent(targets.vsBaseline)} of ${roles.baseline} ${at}`,
      ...share(loaded.rpsVsBaseline, targets.vsBaseline),
    });
  }
  if (loaded && latencyMs > 0) {
    checks.push({
      target: `throughput ≥ ${percent(targets.vsRoundTrip)} of ${roles.roundTrip} ${at}`,
      ...share(loaded.rpsVsRoundTrip, targets.vsRoundTrip),
    });
  }
  if (loaded) {
    const calls = loaded.calls;
    checks.push({
      target: `≤ ${targets.callsPerRequest} store calls per request ${at}`,
      measured: Number.isNaN(calls)
        ? "no count of this store's calls"
        : `${calls.toFixed(2)} (${signed(calls - targets.callsPerRequest, 2)} against the target)`,
      met: Number.isNaN(calls) ? undefined : calls <= targets.callsPerRequest,
    });
  }
  const single = find(report, subject, latencyMs, 1);
  const floor = find(report, roles.roundTrip, latencyMs, 1);
  if (single && floor) {
    const budget = floor.p50OverBaseline + targets.p50SlackMs;
    checks.push({
      target: `p50 over ${roles.baseline} ≤ ${roles.roundTrip}'s + ${targets.p50SlackMs} ms at 1 connection, ${latencyMs} ms (≤ ${fixed(budget, 2)} ms)`,
      measured: `${signed(single.p50OverBaseline, 2)} ms (${signed(single.p50OverBaseline - budget, 2)} ms against the target)`,
      met: Number.isNaN(budget) ? undefined : single.p50OverBaseline <= budget,
    });
  }
  const limits = report.limits.find((l) => l.contender === subject && l.latencyMs === latencyMs);
  if (limits) checks.push(...limitChecks(limits));
  return checks;
}

/** Exact admissions in every round, and no store call for a client already refused. */
function limitChecks(l: LimitsRow): TargetCheck[] {
  const exact =
    l.solo.min === l.solo.expected &&
    l.solo.max === l.solo.expected &&
    l.twoKeys.expected.every((e, i) => l.twoKeys.min[i] === e && l.twoKeys.max[i] === e);
  const a = admissions(l);
  const open = l.failedOpen > 0 ? ` (${l.failedOpen} failed open)` : "";
  const at = `at ${l.latencyMs} ms`;
  return [
    {
      target: `admitted exactly as expected in every round of the over-limit scenarios ${at}`,
      measured: `${a.solo}; ${a.twoKeys}${open}`,
      met: exact,
    },
    {
      target: `0 store calls for an already-refused client ${at}`,
      measured: Number.isNaN(l.blockedCalls)
        ? "no count of this store's calls"
        : l.blockedCalls.toFixed(2),
      met: Number.isNaN(l.blockedCalls) ? undefined : l.blockedCalls === 0,
    },
  ];
}

/** Throughput above `peer` at every point both ran, paired within rounds. */
function peerCheck(report: Report, subject: string, peer: string): TargetCheck | undefined {
  const points = report.rows
    .filter((r) => r.contender === subject && find(report, peer, r.latencyMs, r.connections))
    .map((r) => ({
      at: `${r.connections} connection${r.connections === 1 ? "" : "s"}, ${r.latencyMs} ms`,
      ratio: paired(
        report.results,
        subject,
        peer,
        r,
        (s, p) => s.throughput.rps / p.throughput.rps,
      ),
    }))
    .filter((p) => !Number.isNaN(p.ratio));
  if (points.length === 0) return undefined;
  const below = points.filter((p) => p.ratio <= 1);
  const lowest = points.reduce((lo, p) => (p.ratio < lo.ratio ? p : lo));
  return {
    target: `throughput above ${peer} at every point of the sweep`,
    measured:
      below.length === 0
        ? `${points.length} of ${points.length} points; lowest ${percent(lowest.ratio)} of its req/s (${lowest.at})`
        : `below at ${below.length} of ${points.length} points: ${below.map((p) => `${percent(p.ratio)} (${p.at})`).join("; ")}`,
    met: below.length === 0,
  };
}

/** The checks as Markdown list lines: met, MISSED, or n/a when the run cannot tell. */
export function formatTargets(checks: readonly TargetCheck[]): string {
  const word = (met: boolean | undefined) => (met === undefined ? "n/a" : met ? "met" : "MISSED");
  return checks.map((c) => `- ${word(c.met)}: ${c.target}: ${c.measured}`).join("\n");
}
