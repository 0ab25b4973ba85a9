/** @module bench/harness — the benchmark's arithmetic: percentiles, medians, Redis counters, the run schedule and the expected admissions. Pure, so it is unit-tested. */

/**
 * Median of the values (mean of the middle two for an even count); `NaN` when
 * there are none, so a missing measurement never reads as zero.
 *
 * @example
 * median([3, 1, 2]); // 2
 * median([4, 1, 3, 2]); // 2.5
 */
export function median(values: readonly number[]): number {
  const xs = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1
    ? (xs[mid] as number)
    : ((xs[mid - 1] as number) + (xs[mid] as number)) / 2;
}

/**
 * A 95 % interval for the median of `values`, by the percentile bootstrap:
 * the median of `resamples` samples drawn with replacement, their 2.5th and
 * 97.5th percentiles. Seeded, so a run's report can be reproduced from its
 * raw results. With a handful of rounds it is wide, which is the point: it
 * says whether the rounds can tell a 5 % difference apart at all.
 *
 * @example
 * medianInterval([0.98, 1.01, 0.97, 1.03, 1.0]); // about [0.97, 1.03]
 */
export function medianInterval(
  values: readonly number[],
  resamples = 2000,
  seed = 1,
): [low: number, high: number] {
  const xs = values.filter((v) => !Number.isNaN(v));
  if (xs.length === 0) return [Number.NaN, Number.NaN];
  const random = mulberry32(seed);
  const medians = new Float64Array(resamples);
  const sample: number[] = new Array(xs.length);
  for (let i = 0; i < resamples; i++) {
    for (let j = 0; j < xs.length; j++) sample[j] = xs[Math.floor(random() * xs.length)] as number;
    medians[i] = median(sample);
  }
  medians.sort();
  return [percentile(medians, 2.5), percentile(medians, 97.5)];
}

/**
 * A small seeded generator of numbers in [0, 1) (Mulberry32): fast and the
 * same on every machine.
 *
 * @example
 * const random = mulberry32(1); random(); // 0.627…
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Nearest-rank percentile (the smallest value with at least `p` percent of
 * the values at or below it) of values sorted ascending; `NaN` when empty.
 *
 * @example
 * percentile([10, 20, 30, 40], 50); // 20
 * percentile([10, 20, 30, 40], 99); // 40
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
}

/**
 * p50 and p99 of response times in ms, kept at full precision (autocannon's
 * own histogram rounds to whole milliseconds, too coarse for a 1 ms target).
 *
 * @example
 * summarizeLatency(Float64Array.from([1.2, 0.8, 5.1])); // { count: 3, p50: 1.2, p99: 5.1 }
 */
export function summarizeLatency(samples: Float64Array | readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/**
 * Calls per command from `INFO commandstats`
 * (`cmdstat_evalsha:calls=3,usec=…`). Redis counts commands a Lua script
 * runs under their own names, so `evalsha` plus what the script did are
 * both there. Subcommands keep their `|` (`script|load`).
 *
 * @example
 * parseCommandstats("# Commandstats\r\ncmdstat_get:calls=2,usec=5,usec_per_call=2.50\r\n");
 * // Map { "get" => 2 }
 */
export function parseCommandstats(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of info.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):(.*)$/.exec(line.trim());
    if (!match?.[1] || match[2] === undefined) continue;
    const field = /(?:^|,)calls=(\d+)(?:,|$)/.exec(match[2]);
    if (field?.[1]) calls.set(match[1], Number(field[1]));
  }
  return calls;
}

/**
 * Commands Redis ran between two `INFO commandstats` snapshots, by name,
 * leaving out `ignore` (the harness's own probes, such as `info`). Commands
 * new in `after` count from zero.
 *
 * @example
 * commandDelta(new Map([["get", 2]]), new Map([["get", 5], ["info", 9]]), ["info"]);
 * // Map { "get" => 3 }
 */
export function commandDelta(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  ignore: readonly string[] = ["info"],
): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) {
    if (ignore.includes(name)) continue;
    const n = calls - (before.get(name) ?? 0);
    if (n < 0) throw new Error(`commandstats went backwards for ${name}: was the server reset?`);
    if (n > 0) delta.set(name, n);
  }
  return delta;
}

/** Sum of a delta's calls; with `only`, of those commands alone. */
export function totalCalls(delta: ReadonlyMap<string, number>, only?: readonly string[]): number {
  let total = 0;
  for (const [name, n] of delta) if (!only || only.includes(name)) total += n;
  return total;
}

/** Commands a client sends (top level); anything else in commandstats ran inside a script. */
export const SCRIPT_CALLS = ["evalsha", "eval", "evalsha_ro", "eval_ro"] as const;

/** `count` per request, `NaN` when no request was made. */
export function perRequest(count: number, requests: number): number {
  return requests > 0 ? count / requests : Number.NaN;
}

/** What wrangler says it would upload: `Total Upload: 404.25 KiB / gzip: 83.49 KiB`. */
export interface BundleSize {
  kib: number;
  gzipKib: number;
}

/**
 * Reads the upload size from `wrangler deploy --dry-run` output.
 *
 * @example
 * parseUploadSize("Total Upload: 404.25 KiB / gzip: 83.49 KiB"); // { kib: 404.25, gzipKib: 83.49 }
 */
export function parseUploadSize(output: string): BundleSize | undefined {
  const match = /Total Upload:\s*([\d.]+)\s*(KiB|MiB)\s*\/\s*gzip:\s*([\d.]+)\s*(KiB|MiB)/.exec(
    output,
  );
  if (!match) return undefined;
  const kib = (value: string | undefined, unit: string | undefined) =>
    Number(value) * (unit === "MiB" ? 1024 : 1);
  return { kib: kib(match[1], match[2]), gzipKib: kib(match[3], match[4]) };
}

/** One measurement slot: a contender, at a store latency and a number of connections, in a round. */
export interface Slot<C extends string = string> {
  round: number;
  latencyMs: number;
  connections: number;
  contender: C;
}

/**
 * The run order: round by round, each store latency in turn, within it each
 * number of connections, and at each of those every contender that `runs`
 * there, the contenders' order rotated by one each round. The contenders
 * compared at one point run back to back, so the ratios between them are
 * taken minutes apart at most; slow drift of the machine (heat, other load)
 * falls on everyone alike, and no contender always runs first.
 *
 * @example
 * schedule(2, [0], [32], ["a", "b"]).map((s) => s.contender); // ["a", "b", "b", "a"]
 * schedule(1, [0, 5], [1], ["a", "b"], (c, ms) => ms === 0 || c === "a").length; // 3
 */
export function schedule<C extends string>(
  rounds: number,
  latencies: readonly number[],
  connections: readonly number[],
  contenders: readonly C[],
  runs: (contender: C, latencyMs: number, connections: number) => boolean = () => true,
): Slot<C>[] {
  const slots: Slot<C>[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const latencyMs of latencies) {
      for (const conns of connections) {
        for (let i = 0; i < contenders.length; i++) {
          const contender = contenders[(i + round) % contenders.length] as C;
          if (runs(contender, latencyMs, conns)) {
            slots.push({ round, latencyMs, connections: conns, contender });
          }
        }
      }
    }
  }
  return slots;
}

/**
 * Reads a comma-separated list of numbers (`1,8,32,128`), each at least
 * `min`, whole numbers only when `integer`; duplicates dropped, order kept.
 *
 * @example
 * parseNumberList("1,8,32", "--connections", { min: 1, integer: true }); // [1, 8, 32]
 * parseNumberList("0,5,20", "--latencies", { min: 0 }); // [0, 5, 20]
 */
export function parseNumberList(
  text: string,
  option: string,
  rules: { min: number; integer?: boolean },
): number[] {
  const items = text.split(",").map((part) => part.trim());
  const values = items.map(Number);
  const bad = items.filter(
    (item, i) =>
      item === "" ||
      !Number.isFinite(values[i]) ||
      (values[i] as number) < rules.min ||
      (rules.integer === true && !Number.isInteger(values[i])),
  );
  if (bad.length > 0) {
    const what = rules.integer ? "whole numbers" : "numbers";
    throw new Error(
      `${option} takes comma-separated ${what} ≥ ${rules.min}, e.g. 1,8,32; not ${JSON.stringify(text)}`,
    );
  }
  return [...new Set(values)];
}

/**
 * The number of connections where the checks that need only one point run
 * (the over-limit scenarios, the configuration variants): `preferred` when
 * the sweep has it, else the largest in it.
 *
 * @example
 * primaryConnections([1, 8, 32, 128], 32); // 32
 * primaryConnections([1, 8], 32); // 8
 */
export function primaryConnections(connections: readonly number[], preferred: number): number {
  if (connections.includes(preferred)) return preferred;
  if (connections.length === 0) throw new Error("no connection counts to choose from");
  return Math.max(...connections);
}

/**
 * How long to wait before a scenario that needs `needMs` inside one window
 * of a counter whose windows are aligned to the clock (every `periodMs`
 * since the epoch, as the rate limiting binding's are): none if the current
 * window has that much left, else until just after the next one starts.
 *
 * @example
 * windowWaitMs(120_000 + 5_000, 60_000, 10_000); // 0: 55 s left in this minute
 * windowWaitMs(120_000 + 55_000, 60_000, 10_000); // 5_050: 5 s left, so the next minute + 50 ms
 */
export function windowWaitMs(nowMs: number, periodMs: number, needMs: number): number {
  const left = periodMs - (nowMs % periodMs);
  return left >= needMs ? 0 : left + 50;
}

/**
 * Calls made between two snapshots of per-object counters, summed over
 * objects. An object missing from `before` was created in between and counts
 * from zero; one whose count went down was restarted (its count lives in
 * memory), so only what it counted since is known: a lower bound.
 *
 * @example
 * callsBetween(new Map([["a", 10]]), new Map([["a", 25], ["b", 4]])); // 19
 */
export function callsBetween(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): number {
  let calls = 0;
  for (const [id, count] of after) {
    const was = before.get(id) ?? 0;
    calls += count >= was ? count - was : count;
  }
  return calls;
}

/** What a run consists of, for `estimateSeconds`. */
export interface RunShape {
  contenders: number;
  /** Distinct bundles to build. */
  bundles: number;
  warmupSec: number;
  slots: number;
  durationSec: number;
  /** Slots followed by the over-limit scenarios. */
  scenarios: number;
}

/**
 * Roughly how long a run takes on the two-core machine the defaults are
 * sized for: a `wrangler deploy --dry-run` per bundle, starting the stack
 * and workerd, the warm-ups, each point's load plus its settling and
 * counter reads, and the over-limit scenarios (with the average wait for
 * the binding's window). For the progress line and the hard stop, not a
 * measurement.
 *
 * @example
 * estimateSeconds({ contenders: 2, bundles: 2, warmupSec: 1, slots: 10, durationSec: 2, scenarios: 1 }); // 53
 */
export function estimateSeconds(run: RunShape): number {
  const bundling = 6 * run.bundles;
  const startup = 10;
  const warmup = run.contenders * (run.warmupSec + 0.5);
  const points = run.slots * (run.durationSec + 0.5);
  const scenarios = run.scenarios * 3;
  return Math.round(bundling + startup + warmup + points + scenarios);
}

/** A limit as the scenarios see it: how many requests it admits from idle. */
export interface Capacities {
  key: number;
  ip: number;
}

/**
 * The right number of admissions when clients send, one after the other,
 * `requests[i]` requests each with its own API key from one shared address:
 * each key gets at most its own capacity, all together at most the address's,
 * and a refused request consumes nothing, so later keys get what is left.
 *
 * @example
 * expectedAdmitted({ key: 50, ip: 80 }, [500]); // [50]
 * expectedAdmitted({ key: 50, ip: 80 }, [250, 250]); // [50, 30]
 */
export function expectedAdmitted(limits: Capacities, requests: readonly number[]): number[] {
  let ipLeft = limits.ip;
  return requests.map((n) => {
    const admitted = Math.max(0, Math.min(n, limits.key, ipLeft));
    ipLeft -= admitted;
    return admitted;
  });
}

/** The parts of a V8 CPU profile (`Profiler.stop` over the inspector protocol) the summary reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }[];
  samples: number[];
}

export type CallFrame = CpuProfile["nodes"][number]["callFrame"];

/** Share of samples (0…1) spent in a function itself, and in it or anything it called. */
export interface ProfileEntry {
  name: string;
  self: number;
  total: number;
}

/**
 * Sums a sampled CPU profile per function, as `label` names them (frames
 * with the same label are one function). `total` counts a sample once per
 * function on its stack, so recursion does not inflate it. Sorted by total.
 *
 * @example
 * summarizeProfile(profile, (f) => f.functionName || "(anonymous)")[0]; // { name: "(root)", self: 0, total: 1 }
 */
export function summarizeProfile(
  profile: CpuProfile,
  label: (frame: CallFrame) => string,
): ProfileEntry[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const [leaf, count] of hits) {
    const seen = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (!node) break;
      const name = label(node.callFrame);
      if (id === leaf) self.set(name, (self.get(name) ?? 0) + count);
      if (!seen.has(name)) {
        seen.add(name);
        total.set(name, (total.get(name) ?? 0) + count);
      }
    }
  }
  const n = profile.samples.length;
  return [...total]
    .map(([name, t]) => ({ name, self: (self.get(name) ?? 0) / n, total: t / n }))
    .sort((a, b) => b.total - a.total || b.self - a.self);
}
