/** @module protect/cidr — IPv4 and IPv6 addresses and CIDR ranges as sorted, merged intervals: exact, O(log n) per lookup. */
import { embeddedV4, formatIp, parseIp } from "../identity/ip.ts";

/**
 * An address ready for lookups: IPv4 (and IPv4-mapped IPv6) as one 32-bit
 * number, other IPv6 as four 32-bit words, most significant first.
 */
export type Address = { v4: number } | { v6: Uint32Array };

/** A range in one family, inclusive at both ends; IPv6 bounds as four 32-bit words. */
type Interval4 = [start: number, end: number];
type Interval6 = [start: Uint32Array, end: Uint32Array];

/** A parsed entry: its canonical text and the intervals it covers in each family. */
export interface Cidr {
  /** `192.0.2.1`, `198.51.100.0/24`, `2001:db8::/32`: how lists show it. */
  text: string;
  v4?: Interval4;
  v6?: Interval6;
}

/** `::ffff:0:0/96`, where IPv4-mapped addresses live (RFC 4291 §2.5.5.2). */
const MAPPED_FIRST = Uint32Array.of(0, 0, 0xffff, 0);
const MAPPED_LAST = Uint32Array.of(0, 0, 0xffff, 0xffffffff);

/**
 * Parses an address or a CIDR range, strictly: host bits must be zero
 * (`10.0.0.1/8` is refused, naming `10.0.0.0/8`), as Python's `ipaddress`
 * does by default, so a typo never widens or narrows a list silently.
 * IPv4-mapped IPv6 (RFC 4291 §2.5.5.2) is the IPv4 range it maps, and an
 * IPv6 range that holds all of `::ffff:0:0/96` (like `::/0`) holds every
 * IPv4 address too: one host matches alike whichever stack it came over.
 * Integer arithmetic only: 10,000 entries parse in a few milliseconds.
 *
 * @example
 * parseCidr("198.51.100.0/24");     // { text: "198.51.100.0/24", v4: [3325256704, 3325256959] }
 * parseCidr("::ffff:10.0.0.0/104"); // { text: "10.0.0.0/8", v4: [167772160, 184549375] }
 * parseCidr("10.0.0.1/8");          // 'has host bits set; the range is "10.0.0.0/8"'
 */
export function parseCidr(input: string): Cidr | string {
  const slash = input.indexOf("/");
  const addressText = slash === -1 ? input : input.slice(0, slash);
  const quick = DOTTED.exec(input);
  if (quick) return quickV4(quick);
  const ip = parseIp(addressText);
  if (!ip || addressText.startsWith("[")) return "expected an IPv4 or IPv6 address or CIDR range";
  const bits = ip.version === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const lengthText = input.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > bits) {
      return `expected a prefix length from 0 to ${bits} after "/"`;
    }
    prefix = Number(lengthText);
  }
  const words = wordsOf(ip.bytes);
  const first = new Uint32Array(words.length);
  const last = new Uint32Array(words.length);
  for (let w = 0; w < words.length; w++) {
    const kept = Math.min(32, Math.max(0, prefix - 32 * w));
    const mask = kept === 0 ? 0 : (0xffffffff << (32 - kept)) >>> 0;
    first[w] = (words[w] ?? 0) & mask;
    last[w] = (first[w] ?? 0) | (~mask >>> 0);
  }
  if (first.some((word, w) => word !== words[w])) {
    const range = `${formatIp({ version: ip.version, bytes: bytesOf(first) })}/${prefix}`;
    return `has host bits set; the range is ${JSON.stringify(range)}`;
  }
  if (ip.version === 4) {
    return { text: withPrefix(ip.version, first, prefix, bits), v4: [first[0] ?? 0, last[0] ?? 0] };
  }
  if (prefix >= 96 && compare(first, MAPPED_FIRST) >= 0 && compare(last, MAPPED_LAST) <= 0) {
    const v4 = Uint32Array.of(first[3] ?? 0);
    return { text: withPrefix(4, v4, prefix - 96, 32), v4: [first[3] ?? 0, last[3] ?? 0] };
  }
  // No host bits: the address as parsed is the network, formatted without copying it.
  const text = formatIp({ version: 6, bytes: ip.bytes });
  const cidr: Cidr = { text: prefix === bits ? text : `${text}/${prefix}`, v6: [first, last] };
  // The part inside ::ffff:0:0/96 is IPv4 space.
  if (compare(first, MAPPED_FIRST) <= 0 && compare(last, MAPPED_LAST) >= 0) {
    cidr.v4 = [0, 0xffffffff];
  }
  return cidr;
}

/** A canonical dotted quad with an optional prefix: most entries, parsed without allocation-heavy steps. */
const DOTTED =
  /^(0|[1-9]\d?|1\d\d|2[0-4]\d|25[0-5])\.(0|[1-9]\d?|1\d\d|2[0-4]\d|25[0-5])\.(0|[1-9]\d?|1\d\d|2[0-4]\d|25[0-5])\.(0|[1-9]\d?|1\d\d|2[0-4]\d|25[0-5])(?:\/(3[0-2]|[12]?\d))?$/;

function quickV4(m: RegExpExecArray): Cidr | string {
  const value =
    ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const prefix = m[5] === undefined ? 32 : Number(m[5]);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const first = (value & mask) >>> 0;
  const address = `${m[1]}.${m[2]}.${m[3]}.${m[4]}`;
  if (first !== value) {
    const network = [first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255];
    return `has host bits set; the range is ${JSON.stringify(`${network.join(".")}/${prefix}`)}`;
  }
  const text = prefix === 32 ? address : `${address}/${prefix}`;
  return { text, v4: [first, (first | (~mask >>> 0)) >>> 0] };
}

function withPrefix(version: 4 | 6, words: Uint32Array, prefix: number, bits: number): string {
  const text = formatIp({ version, bytes: bytesOf(words) });
  return prefix === bits ? text : `${text}/${prefix}`;
}

function wordsOf(b: Uint8Array): Uint32Array {
  const out = new Uint32Array(b.length / 4);
  for (let w = 0; w < out.length; w++) {
    const i = w * 4;
    out[w] =
      (((b[i] ?? 0) << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0)) >>>
      0;
  }
  return out;
}

function bytesOf(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  words.forEach((word, w) => {
    out[w * 4] = word >>> 24;
    out[w * 4 + 1] = (word >>> 16) & 0xff;
    out[w * 4 + 2] = (word >>> 8) & 0xff;
    out[w * 4 + 3] = word & 0xff;
  });
  return out;
}

/** Compares two 128-bit values held as four words. */
function compare(a: Uint32Array, b: Uint32Array): number {
  for (let w = 0; w < 4; w++) {
    const x = a[w] ?? 0;
    const y = b[w] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * An address for lookups, or undefined when `text` is not one. IPv6 that
 * stands for an IPv4 address (mapped, translated, compatible) becomes IPv4.
 *
 * @example
 * addressOf("::ffff:192.0.2.1"); // { v4: 3221225985 }
 */
export function addressOf(text: string): Address | undefined {
  const ip = parseIp(text);
  if (!ip) return undefined;
  const v4 = ip.version === 4 ? ip.bytes : embeddedV4(ip.bytes);
  if (v4) return { v4: wordsOf(v4)[0] ?? 0 };
  return { v6: wordsOf(ip.bytes) };
}

/**
 * A set of ranges, merged into sorted disjoint intervals per family, so a
 * lookup is one binary search: about log2(n) comparisons, whatever the
 * ranges' sizes or overlaps (`bench/cidr.ts` prints the cost at 10,000).
 * Immutable once built.
 *
 * @example
 * const set = CidrSet.from(["10.0.0.0/8", "2001:db8::/32"]);
 * set.has(addressOf("10.1.2.3")!); // true
 */
export class CidrSet {
  readonly #starts4: Uint32Array;
  readonly #ends4: Uint32Array;
  /** Four words per interval. */
  readonly #starts6: Uint32Array;
  readonly #ends6: Uint32Array;

  private constructor(v4: Interval4[], v6: Interval6[]) {
    const m4 = merge(
      sortedByStart(v4),
      (a, b) => a - b,
      (end, start) => start - end <= 1,
    );
    const m6 = merge(v6, compare, adjacent6);
    this.#starts4 = Uint32Array.from(m4, (r) => r[0]);
    this.#ends4 = Uint32Array.from(m4, (r) => r[1]);
    this.#starts6 = new Uint32Array(m6.length * 4);
    this.#ends6 = new Uint32Array(m6.length * 4);
    m6.forEach(([start, end], i) => {
      this.#starts6.set(start, i * 4);
      this.#ends6.set(end, i * 4);
    });
  }

  /** The set of `cidrs` (parsed entries, or texts; unparsable texts are skipped). */
  static from(cidrs: Iterable<Cidr | string>): CidrSet {
    const v4: Interval4[] = [];
    const v6: Interval6[] = [];
    for (const item of cidrs) {
      const cidr = typeof item === "string" ? parseCidr(item) : item;
      if (typeof cidr === "string") continue;
      if (cidr.v4) v4.push(cidr.v4);
      if (cidr.v6) v6.push(cidr.v6);
    }
    return new CidrSet(v4, v6);
  }

  /** Disjoint intervals held (after merging), for tests and benchmarks. */
  get size(): number {
    return this.#starts4.length + this.#starts6.length / 4;
  }

  has(address: Address): boolean {
    if ("v4" in address) {
      const at = lastAtMost4(this.#starts4, address.v4);
      return at >= 0 && address.v4 <= (this.#ends4[at] ?? -1);
    }
    const at = lastAtMost6(this.#starts6, address.v6);
    return at >= 0 && compare6(address.v6, 0, this.#ends6, at) <= 0;
  }
}

/** IPv4 intervals by start, sorted natively as numbers (start × 2^21 + index, exact below 2^53). */
function sortedByStart(ranges: Interval4[]): Interval4[] {
  if (ranges.length >= 2 ** 21) return [...ranges].sort((a, b) => a[0] - b[0]);
  const keys = Float64Array.from(ranges, (r, i) => r[0] * 2 ** 21 + i);
  keys.sort();
  return Array.from(keys, (k) => ranges[k % 2 ** 21] as Interval4);
}

/** Sorted by start, overlapping or adjacent intervals joined. */
function merge<T>(
  ranges: [T, T][],
  order: (a: T, b: T) => number,
  touches: (end: T, start: T) => boolean,
): [T, T][] {
  const sorted = [...ranges].sort((a, b) => order(a[0], b[0]));
  const out: [T, T][] = [];
  for (const [start, end] of sorted) {
    const last = out[out.length - 1];
    // Adjacent ranges join too: 10.0.0.0/25 and 10.0.0.128/25 are one interval.
    if (last && (order(start, last[1]) <= 0 || touches(last[1], start))) {
      if (order(end, last[1]) > 0) last[1] = end;
    } else {
      out.push([start, end]);
    }
  }
  return out;
}

/** Is `start` the value right after `end`? */
function adjacent6(end: Uint32Array, start: Uint32Array): boolean {
  const next = Uint32Array.from(end);
  for (let w = 3; w >= 0; w--) {
    next[w] = ((next[w] ?? 0) + 1) >>> 0;
    if (next[w] !== 0) break;
  }
  return compare(next, start) === 0;
}

/** Index of the last start ≤ x, or -1. */
function lastAtMost4(starts: Uint32Array, x: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((starts[mid] ?? 0) <= x) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

function lastAtMost6(starts: Uint32Array, x: Uint32Array): number {
  let lo = 0;
  let hi = starts.length / 4 - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (compare6(x, 0, starts, mid) >= 0) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Compares `a`'s interval `i` with `b`'s interval `j`, word by word. */
function compare6(a: Uint32Array, i: number, b: Uint32Array, j: number): number {
  for (let w = 0; w < 4; w++) {
    const x = a[i * 4 + w] ?? 0;
    const y = b[j * 4 + w] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
