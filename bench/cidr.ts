/** @module bench/cidr — what a list lookup costs per request with up to 100,000 CIDR ranges (`npm run bench:cidr`). */
import { pathToFileURL } from "node:url";
import { type Address, addressOf, CidrSet } from "../src/protect/cidr.ts";

/** One row of the table. */
export interface CidrRow {
  ranges: number;
  family: "IPv4" | "IPv6" | "mixed";
  /** Disjoint intervals after merging. */
  intervals: number;
  buildMs: number;
  /** `addressOf`: once per request, whatever the number of lists. */
  nsPerParse: number;
  /** `has` on a parsed address: once per list per request. */
  nsPerLookup: number;
  /** The same answer by scanning every range, for scale. */
  nsPerLinearScan: number;
}

/** A small deterministic generator (xorshift32), so runs compare. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

function v4Range(rnd: () => number): string {
  const prefix = 16 + Math.floor(rnd() * 17); // /16 to /32
  const n = Math.floor(rnd() * 0x100000000);
  const network = prefix === 32 ? n : ((n >>> (32 - prefix)) << (32 - prefix)) >>> 0;
  return `${dotted(network)}/${prefix}`;
}

function v6Range(rnd: () => number): string {
  const prefix = 32 + Math.floor(rnd() * 33); // /32 to /64
  const groups = Array.from({ length: 4 }, () => Math.floor(rnd() * 0x10000));
  const bits = groups.reduce((v, g) => (v << 16n) | BigInt(g), 0n);
  const network = (bits >> BigInt(64 - prefix)) << BigInt(64 - prefix);
  const hex = Array.from({ length: 4 }, (_, i) =>
    ((network >> BigInt(48 - 16 * i)) & 0xffffn).toString(16),
  );
  return `${hex.join(":")}::/${prefix}`;
}

function v4Address(rnd: () => number): string {
  return dotted(Math.floor(rnd() * 0x100000000));
}

function v6Address(rnd: () => number): string {
  return Array.from({ length: 8 }, () => Math.floor(rnd() * 0x10000).toString(16)).join(":");
}

function dotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Nanoseconds per call of `fn` over `items`, best of three passes. */
function timePerCall<T>(items: readonly T[], fn: (item: T) => boolean): number {
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let pass = 0; pass < 3; pass++) {
    const start = process.hrtime.bigint();
    for (const item of items) if (fn(item)) sink++;
    const ns = Number(process.hrtime.bigint() - start) / items.length;
    best = Math.min(best, ns);
  }
  // Keeps the loop from being optimised away.
  if (sink < 0) console.log(sink);
  return best;
}

/** A linear matcher over the same ranges: what a list costs without the interval index. */
function linear(texts: readonly string[]): (address: Address) => boolean {
  const sets = texts.map((t) => CidrSet.from([t]));
  return (address) => sets.some((s) => s.has(address));
}

/**
 * Measures each size and family: the lookup an address costs on a list of
 * that many ranges (half the probes land in a range, half do not).
 *
 * @example
 * runCidrBench({ sizes: [10_000], lookups: 200_000 });
 */
export function runCidrBench(options: { sizes: number[]; lookups: number }): CidrRow[] {
  const rows: CidrRow[] = [];
  const families: CidrRow["family"][] = ["IPv4", "IPv6", "mixed"];
  for (const ranges of options.sizes) {
    for (const family of families) {
      const rnd = random(ranges * 7 + family.length);
      const v6 = (i: number) => family === "IPv6" || (family === "mixed" && i % 2 === 1);
      const texts = Array.from({ length: ranges }, (_, i) => (v6(i) ? v6Range(rnd) : v4Range(rnd)));
      const started = process.hrtime.bigint();
      const set = CidrSet.from(texts);
      const buildMs = Number(process.hrtime.bigint() - started) / 1e6;
      // Half the probes are a range's first address (hits), half random (mostly misses).
      const probes = Array.from({ length: options.lookups }, (_, i) => {
        if (i % 2 === 0) return (texts[i % texts.length] as string).split("/")[0] as string;
        return v6(i) ? v6Address(rnd) : v4Address(rnd);
      });
      const nsPerParse = timePerCall(probes, (p) => addressOf(p) !== undefined);
      const addresses = probes.map((p) => addressOf(p) as Address);
      const nsPerLookup = timePerCall(addresses, (a) => set.has(a));
      const scan = linear(texts);
      const few = addresses.slice(0, Math.max(20, Math.floor(200_000 / ranges)));
      const nsPerLinearScan = timePerCall(few, scan);
      rows.push({
        ranges,
        family,
        intervals: set.size,
        buildMs,
        nsPerParse,
        nsPerLookup,
        nsPerLinearScan,
      });
    }
  }
  return rows;
}

/**
 * The rows as a Markdown table.
 *
 * @example
 * console.log(cidrTable(runCidrBench({ sizes: [10_000], lookups: 100_000 })));
 */
export function cidrTable(rows: readonly CidrRow[]): string {
  const head =
    "| ranges | family | intervals | build | parse address | lookup | linear scan (for scale) |";
  const rule = "|---:|---|---:|---:|---:|---:|---:|";
  const lines = rows.map(
    (r) =>
      `| ${r.ranges.toLocaleString("en")} | ${r.family} | ${r.intervals.toLocaleString("en")} | ${r.buildMs.toFixed(1)} ms | ${r.nsPerParse.toFixed(0)} ns | ${r.nsPerLookup.toFixed(0)} ns | ${formatNs(r.nsPerLinearScan)} |`,
  );
  return [head, rule, ...lines].join("\n");
}

function formatNs(ns: number): string {
  return ns >= 10_000 ? `${(ns / 1000).toFixed(0)} µs` : `${ns.toFixed(0)} ns`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes("--quick");
  const rows = runCidrBench({
    sizes: quick ? [100, 10_000] : [100, 1_000, 10_000, 100_000],
    lookups: quick ? 50_000 : 500_000,
  });
  console.log(
    `CIDR list lookups, Node ${process.version}: per request, one address parse and one lookup per list\n`,
  );
  console.log(cidrTable(rows));
}
