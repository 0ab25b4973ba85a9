/** @module bench/adaptive — the adaptive controller in a deterministic simulation: an origin whose capacity changes, clients wanting more, isolates reporting to the store model. */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  type AdaptiveConfig,
  adaptiveStep,
  defaultAdaptiveConfig,
  EMPTY_REPORT,
  FULL_PPM,
  type HealthReport,
  scaleLimit,
} from "../src/limiter/adaptive.ts";
import { gcraStep } from "../src/limiter/algorithms/gcra.ts";
import { isMain } from "../tools/main.ts";
import { mulberry32 } from "./harness.ts";

/** Simulated clocks start here (any epoch works; a realistic one keeps the model honest). */
const EPOCH = 1_780_000_000_000;

/** One simulation's set-up. */
export interface SimOptions {
  seed: number;
  durationS: number;
  /** The origin's capacity (req/s) at `tS` seconds: above it, it sheds with 503. */
  capacity: (tS: number) => number;
  /** Requests per second all clients together send (Poisson arrivals). */
  demand: number;
  /** The global rule's limit (gcra), before the factor. */
  rule: { count: number; periodMs: number; burst: number };
  isolates: number;
  /** Each isolate reports on its first call this long after its last report. */
  reportMs: number;
  /** The origin's mean latency when idle; it grows as 1 / (1 − utilisation). */
  baseLatencyMs: number;
  /** Share of requests the origin fails (500) whatever its load. */
  baseErrorShare: number;
  config: AdaptiveConfig;
}

/** The scenario of the proof: 1000 req/s, 400 from t = 60 s, 1000 again from t = 150 s. */
export const SCENARIO: SimOptions = {
  seed: 1,
  durationS: 240,
  capacity: (tS) => (tS >= 60 && tS < 150 ? 400 : 1000),
  demand: 1500,
  rule: { count: 1000, periodMs: 1000, burst: 1000 },
  isolates: 4,
  reportMs: 100,
  baseLatencyMs: 20,
  baseErrorShare: 0.001,
  config: { ...defaultAdaptiveConfig },
};

/** One simulated second. Shares and latencies are of the responses that completed in it. */
export interface Second {
  t: number;
  capacity: number;
  demand: number;
  admitted: number;
  /** The factor in force at the second's end (0–1). */
  factor: number;
  errorShare: number;
  slowShare: number;
  meanLatencyMs: number;
  p99LatencyMs: number;
}

interface Outcome {
  status: number;
  latencyMs: number;
}

/**
 * The synthetic origin: utilisation is the last second's arrivals over the
 * capacity; latency is exponential with mean `base / (1 − u)` (an M/M/1
 * queue), so it climbs steeply near 1; above capacity the excess is shed
 * with fast 503s.
 */
function makeOrigin(opts: SimOptions, rng: () => number): (ms: number) => Outcome {
  const arrivals: number[] = [];
  let head = 0;
  return (ms) => {
    arrivals.push(ms);
    while ((arrivals[head] as number) <= ms - 1000) head += 1;
    if (head > 4096) {
      arrivals.splice(0, head);
      head = 0;
    }
    const u = (arrivals.length - head) / opts.capacity(Math.floor(ms / 1000));
    if (u > 1 && rng() < 1 - 1 / u) return { status: 503, latencyMs: 2 };
    const mean = opts.baseLatencyMs / (1 - Math.min(u, 0.995));
    const latencyMs = Math.min(30_000, Math.max(1, Math.round(-Math.log(1 - rng()) * mean)));
    return { status: rng() < opts.baseErrorShare ? 500 : 200, latencyMs };
  };
}

interface Isolate {
  pending: HealthReport;
  nextReport: number;
  pauseUntil: number;
}

interface Tally {
  demand: number;
  admitted: number;
  done: number;
  errors: number;
  slow: number;
  latencies: number[];
}

const newTally = (): Tally => ({
  demand: 0,
  admitted: 0,
  done: 0,
  errors: 0,
  slow: 0,
  latencies: [],
});

function summarise(t: number, opts: SimOptions, tally: Tally, factorPpm: number): Second {
  const sorted = tally.latencies.sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  const n = Math.max(1, tally.done);
  return {
    t,
    capacity: opts.capacity(t),
    demand: tally.demand,
    admitted: tally.admitted,
    factor: factorPpm / FULL_PPM,
    errorShare: tally.errors / n,
    slowShare: tally.slow / n,
    meanLatencyMs: Math.round(sum / n),
    p99LatencyMs: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0,
  };
}

/**
 * Runs the simulation on simulated time only (1 ms steps): every request
 * goes to a random isolate, which makes one store call (the controller's
 * step with its report when one is due, then the rule's gcra decision on
 * the scaled limit, both with the store's own models); admitted requests
 * reach the origin, and their outcomes join the isolate's next report.
 *
 * @example
 * const series = simulate(SCENARIO);
 * series[100]; // { t: 100, capacity: 400, admitted: 381, factor: 0.382, … }
 */
export function simulate(opts: SimOptions = SCENARIO): Second[] {
  const rng = mulberry32(opts.seed);
  const origin = makeOrigin(opts, rng);
  const isolates: Isolate[] = Array.from({ length: opts.isolates }, (_, i) => ({
    pending: { ...EMPTY_REPORT },
    nextReport: EPOCH + Math.floor((i * opts.reportMs) / opts.isolates),
    pauseUntil: 0,
  }));
  const due = new Map<number, Array<Outcome & { isolate: Isolate }>>();
  const series: Second[] = [];
  let controller: string | null = null;
  let bucket: string | null = null;
  let factor = FULL_PPM;
  let tally = newTally();
  let next = -Math.log(1 - rng()) * (1000 / opts.demand);
  for (let ms = 0; ms < opts.durationS * 1000; ms++) {
    const now = EPOCH + ms;
    for (const o of due.get(ms) ?? []) {
      const p = o.isolate.pending;
      p.requests += 1;
      if (o.status >= 500) p.errors += 1;
      if (o.latencyMs > opts.config.latencyMs) p.slow += 1;
      if (o.status === 503 || o.status === 429) p.overloaded += 1;
      tally.done += 1;
      if (o.status >= 500) tally.errors += 1;
      if (o.latencyMs > opts.config.latencyMs) tally.slow += 1;
      tally.latencies.push(o.latencyMs);
    }
    due.delete(ms);
    for (; next < ms + 1; next += -Math.log(1 - rng()) * (1000 / opts.demand)) {
      tally.demand += 1;
      const iso = isolates[Math.floor(rng() * isolates.length)] as Isolate;
      if (iso.pauseUntil > now) continue;
      let report: HealthReport = EMPTY_REPORT;
      if (now >= iso.nextReport) {
        report = iso.pending;
        iso.pending = { ...EMPTY_REPORT };
        iso.nextReport = now + opts.reportMs;
      }
      const a = adaptiveStep(controller, now, opts.config, report);
      controller = a.value;
      factor = a.factorPpm;
      iso.pauseUntil = a.pauseUntilMs;
      const step = gcraStep(bucket, now, scaleLimit({ ...opts.rule, cost: 1 }, factor));
      if (!step.allowed) continue;
      bucket = step.consumed.value;
      tally.admitted += 1;
      const out = origin(ms);
      // A request still in flight at the latency target is reported slow then, its status unknown.
      const late = out.latencyMs > opts.config.latencyMs;
      const at = ms + (late ? opts.config.latencyMs + 1 : out.latencyMs);
      const list = due.get(at) ?? [];
      list.push({ status: late ? 0 : out.status, latencyMs: out.latencyMs, isolate: iso });
      due.set(at, list);
    }
    if ((ms + 1) % 1000 === 0) {
      series.push(summarise(series.length, opts, tally, factor));
      tally = newTally();
    }
  }
  return series;
}

/** How admitted throughput followed the capacity between two changes. */
export interface Segment {
  fromS: number;
  toS: number;
  capacity: number;
  /** Seconds after the change until the 5 s mean stays within ±10 % of capacity (undefined: never). */
  convergedAfterS: number | undefined;
  /** Largest distance of one second's admitted from the capacity once converged, as a share. */
  swing: number;
  /** Mean admitted once converged, as a share of capacity. */
  level: number;
}

/**
 * Splits the series where the capacity changes, and measures each stretch.
 *
 * @example
 * assess(simulate()).map((s) => s.convergedAfterS); // [15, 5, 42]
 */
export function assess(series: readonly Second[], band = 0.1): Segment[] {
  const cuts = series.flatMap((s, i) =>
    i === 0 || s.capacity !== series[i - 1]?.capacity ? [i] : [],
  );
  return cuts.map((from, k) => {
    const to = cuts[k + 1] ?? series.length;
    const capacity = series[from]?.capacity ?? 0;
    const mean5 = (i: number) => {
      const xs = series.slice(Math.max(from, i - 4), i + 1);
      return xs.reduce((a, s) => a + s.admitted, 0) / xs.length;
    };
    let start: number | undefined;
    for (let i = to - 1; i >= from; i--) {
      if (Math.abs(mean5(i) - capacity) > band * capacity) break;
      start = i;
    }
    const settled = start === undefined ? [] : series.slice(start, to);
    const dist = settled.map((s) => Math.abs(s.admitted - capacity) / capacity);
    const sum = settled.reduce((a, s) => a + s.admitted, 0);
    return {
      fromS: from,
      toS: to,
      capacity,
      convergedAfterS: start === undefined ? undefined : start - from,
      swing: dist.length ? Math.max(...dist) : Number.NaN,
      level: settled.length ? sum / settled.length / capacity : Number.NaN,
    };
  });
}

const W = 960;
const LEFT = 64;
const RIGHT = 24;

interface Panel {
  top: number;
  height: number;
  max: number;
  /** Grid step on the value axis. */
  step: number;
  label: string;
  format: (v: number) => string;
}

/** One panel's frame, grid and labels, and a function mapping (t, value) to a point. */
function frame(p: Panel, duration: number, out: string[]): (t: number, v: number) => string {
  const pw = W - LEFT - RIGHT;
  const x = (t: number) => (LEFT + (t / duration) * pw).toFixed(1);
  const y = (v: number) => (p.top + p.height - (v / p.max) * p.height).toFixed(1);
  for (let v = 0; v <= p.max + 1e-9; v += p.step) {
    out.push(
      `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`,
      `<text x="${LEFT - 6}" y="${y(v)}" dy="4" text-anchor="end">${p.format(v)}</text>`,
    );
  }
  for (let t = 0; t <= duration; t += 30) {
    const bottom = p.top + p.height;
    out.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="${bottom}" y2="${bottom + 5}" stroke="black"/>`,
      `<text x="${x(t)}" y="${bottom + 18}" text-anchor="middle">${t}</text>`,
    );
  }
  out.push(
    `<rect x="${LEFT}" y="${p.top}" width="${pw}" height="${p.height}" fill="none" stroke="black"/>`,
    `<text transform="translate(16 ${p.top + p.height / 2}) rotate(-90)" text-anchor="middle">${p.label}</text>`,
  );
  return (t, v) => `${x(t)},${y(v)}`;
}

function polyline(points: string[], colour: string, width = 2, extra = ""): string {
  return `<polyline fill="none" stroke="${colour}" stroke-width="${width}"${extra} points="${points.join(" ")}"/>`;
}

/**
 * The series as a hand-written SVG: demand, origin capacity and admitted
 * requests per second above, the factor below, over simulated time.
 *
 * @example
 * await writeFile("adaptive.svg", renderSvg(simulate()));
 */
export function renderSvg(series: readonly Second[], title = "Adaptive limits"): string {
  const duration = series.length;
  const peak = Math.max(...series.map((s) => Math.max(s.demand, s.capacity)));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} 520" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="520" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>`,
  ];
  const rates = frame(
    {
      top: 56,
      height: 260,
      max: Math.ceil(peak / 200) * 200,
      step: 200,
      label: "requests per second",
      format: String,
    },
    duration,
    out,
  );
  const factors = frame(
    { top: 356, height: 120, max: 1, step: 0.25, label: "factor", format: (v) => v.toFixed(2) },
    duration,
    out,
  );
  const steps = (v: (s: Second) => number) =>
    series.flatMap((s) => [rates(s.t, v(s)), rates(s.t + 1, v(s))]);
  // The ±10 % band the admitted rate must converge into.
  const band = [...steps((s) => s.capacity * 1.1), ...steps((s) => s.capacity * 0.9).reverse()];
  out.push(
    `<polygon fill="#1f77b4" fill-opacity="0.08" stroke="none" points="${band.join(" ")}"/>`,
    polyline(
      steps((s) => s.demand),
      "#bbbbbb",
      1,
    ),
    polyline(
      steps((s) => s.capacity),
      "#555555",
      2,
      ' stroke-dasharray="6 4"',
    ),
    polyline(
      series.map((s) => rates(s.t + 0.5, s.admitted)),
      "#1f77b4",
    ),
    polyline(
      series.map((s) => factors(s.t + 1, s.factor)),
      "#ff7f0e",
    ),
    `<text x="${W / 2}" y="510" text-anchor="middle">simulated time (s)</text>`,
  );
  const legend: Array<[string, string, string]> = [
    ["demand", "#bbbbbb", ""],
    ["origin capacity (±10 % shaded)", "#555555", ' stroke-dasharray="6 4"'],
    ["admitted", "#1f77b4", ""],
    ["factor", "#ff7f0e", ""],
  ];
  let lx = LEFT + 12;
  for (const [name, colour, dash] of legend) {
    out.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="40" y2="40" stroke="${colour}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 30}" y="44">${name}</text>`,
    );
    lx += 60 + name.length * 7;
  }
  out.push("</svg>", "");
  return out.join("\n");
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/**
 * Each stretch against the targets: within ±10 % of the capacity 30 s after
 * a drop (60 s after a rise: the increase is additive, by design), then
 * swings under ±15 %.
 *
 * @example
 * verdicts(assess(simulate())).every((v) => v.ok); // true
 */
export function verdicts(segments: readonly Segment[]): Array<{ ok: boolean; text: string }> {
  return segments.map((s, i) => {
    const rising = i > 0 && s.capacity > (segments[i - 1]?.capacity ?? 0);
    const limit = rising ? 60 : 30;
    const ok = s.convergedAfterS !== undefined && s.convergedAfterS <= limit && s.swing < 0.15;
    const when = s.convergedAfterS === undefined ? "never" : `${s.convergedAfterS} s`;
    return {
      ok,
      text: `t=${s.fromS}–${s.toS} s, capacity ${s.capacity}/s: within ±10% after ${when} (target ≤ ${limit} s), then swing ±${pct(s.swing)} (target < ±15%), level ${pct(s.level)}`,
    };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seed: { type: "string", default: "1" }, docs: { type: "boolean", default: false } },
  });
  const started = performance.now();
  const series = simulate({ ...SCENARIO, seed: Number(values.seed) });
  const elapsed = performance.now() - started;
  console.log("    t  capacity  demand  admitted  factor  errors   slow  mean ms  p99 ms");
  for (const s of series) {
    console.log(
      [
        String(s.t).padStart(5),
        String(s.capacity).padStart(9),
        String(s.demand).padStart(7),
        String(s.admitted).padStart(9),
        s.factor.toFixed(3).padStart(7),
        pct(s.errorShare).padStart(7),
        pct(s.slowShare).padStart(6),
        String(s.meanLatencyMs).padStart(8),
        String(s.p99LatencyMs).padStart(7),
      ].join(" "),
    );
  }
  const results = verdicts(assess(series));
  for (const r of results) console.log(`${r.ok ? "ok  " : "FAIL"} ${r.text}`);
  console.log(`simulated ${series.length} s in ${(elapsed / 1000).toFixed(1)} s`);
  const root = path.resolve(import.meta.dirname, "..");
  const svg = renderSvg(
    series,
    "Adaptive limits: a global 1000/s rule, 1500 req/s demanded, origin capacity 1000 → 400 → 1000 req/s",
  );
  await mkdir(path.join(root, "bench", "out"), { recursive: true });
  await writeFile(path.join(root, "bench", "out", "adaptive.svg"), svg);
  if (values.docs) await writeFile(path.join(root, "docs", "adaptive.svg"), svg);
  if (!results.every((r) => r.ok)) process.exitCode = 1;
}

if (isMain(import.meta.filename)) await main();
