/** @module identity/ip — strict IP parsing, RFC 5952 formatting, subnet keys and client-address extraction. */
import type { IdentityConfig } from "../policy/types.ts";

/** A parsed address: 4 bytes for IPv4, 16 for IPv6, network byte order. */
export interface ParsedIp {
  version: 4 | 6;
  bytes: Uint8Array;
}

// Longest textual IPv6 (with an IPv4 tail) is 45 chars, plus brackets. Anything longer is
// rejected before any splitting, so a hostile header costs nothing.
const MAX_TEXT = 47;
const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * Parses an IPv4 or IPv6 address, strictly.
 *
 * - IPv4: dotted quad only; leading zeros are rejected (`010.0.0.1` is octal to
 *   some parsers and decimal to others, so it is ambiguous).
 * - IPv6: full, `::`-compressed and IPv4-tailed forms (RFC 4291 §2.2), any case,
 *   optionally in brackets (`[::1]`, RFC 3986 §3.2.2).
 * - Rejected: zone ids (`fe80::1%eth0`, RFC 6874) — they only make sense on the
 *   local link and would give one host several keys; ports; surrounding spaces.
 *
 * @example
 * parseIp("192.0.2.1");   // { version: 4, bytes: Uint8Array [192, 0, 2, 1] }
 * parseIp("[2001:db8::1]")?.version; // 6
 * parseIp("1.2.3.4:80");  // undefined
 */
export function parseIp(text: string): ParsedIp | undefined {
  if (text.length === 0 || text.length > MAX_TEXT) return undefined;
  if (text.startsWith("[")) {
    if (!text.endsWith("]")) return undefined;
    const bytes = parseV6(text.slice(1, -1));
    return bytes && { version: 6, bytes };
  }
  if (text.includes(":")) {
    const bytes = parseV6(text);
    return bytes && { version: 6, bytes };
  }
  const bytes = parseV4(text);
  return bytes && { version: 4, bytes };
}

function parseV4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] ?? "";
    if (!DEC_OCTET.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

function parseV6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const gap = text.indexOf("::");
  // At most one "::" (RFC 4291 §2.2); ":::" is caught here too.
  if (gap !== -1 && text.indexOf("::", gap + 1) !== -1) return undefined;
  const head = gap === -1 ? text : text.slice(0, gap);
  const tail = gap === -1 ? "" : text.slice(gap + 2);
  const headWords = parseWords(head, gap === -1);
  const tailWords = parseWords(tail, true);
  if (!headWords || !tailWords) return undefined;
  const explicit = headWords.length + tailWords.length;
  // Without "::" all 8 groups are spelled out; with it, "::" stands for at least one group.
  if (gap === -1 ? explicit !== 8 : explicit > 7) return undefined;
  const words = [...headWords, ...new Array<number>(8 - explicit).fill(0), ...tailWords];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const word = words[i] ?? 0;
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  }
  return bytes;
}

/** Parses colon-separated groups; an IPv4 tail is allowed only as the very last piece. */
function parseWords(text: string, mayEndWithV4: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const words: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? "";
    if (HEX_GROUP.test(part)) {
      words.push(Number.parseInt(part, 16));
      continue;
    }
    if (!mayEndWithV4 || i !== parts.length - 1) return undefined;
    const v4 = parseV4(part);
    if (!v4) return undefined;
    words.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
  }
  return words;
}

/** True for `::ffff:0:0/96` (RFC 4291 §2.5.5.2). */
function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Formats a parsed address: IPv4 dotted, IPv6 in RFC 5952 canonical form (lower
 * case, no leading zeros, the longest run of two or more zero groups as `::`,
 * the first one on a tie; IPv4-mapped addresses with a dotted tail, §5).
 *
 * @example
 * formatIp(parseIp("2001:0DB8:0:0:0:0:0:0001")!); // "2001:db8::1"
 */
export function formatIp(ip: ParsedIp): string {
  const b = ip.bytes;
  if (ip.version === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (isV4Mapped(b)) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed (RFC 5952 §4.2.2)
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (bestStart === -1) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Unwraps IPv4-mapped IPv6 so one host has one identity whichever stack it came over. */
function unmap(ip: ParsedIp): ParsedIp {
  const v4 = ip.version === 6 ? embeddedV4(ip.bytes) : undefined;
  return v4 ? { version: 4, bytes: v4 } : ip;
}

/**
 * The IPv4 address an IPv6 one stands for, if any: IPv4-mapped
 * (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), IPv4-translated (`::ffff:0:a.b.c.d`,
 * RFC 2765 §2.1) and the deprecated IPv4-compatible (`::a.b.c.d`, RFC 4291
 * §2.5.5.1; `::` and `::1` excepted). Keyed as the IPv4 address, so none of
 * them share one IPv6 /56 with the others.
 *
 * @example
 * embeddedV4(parseIp("::ffff:0:192.0.2.1")!.bytes); // Uint8Array [192, 0, 2, 1]
 */
export function embeddedV4(bytes: Uint8Array): Uint8Array | undefined {
  for (let i = 0; i < 8; i++) if (bytes[i] !== 0) return undefined;
  const [b8, b9, b10, b11, b12, b13, b14, b15] = bytes.subarray(8);
  const tail = bytes.slice(12);
  if (b8 === 0 && b9 === 0 && b10 === 0xff && b11 === 0xff) return tail; // mapped
  if (b8 === 0xff && b9 === 0xff && b10 === 0 && b11 === 0) return tail; // translated
  const compatible = b8 === 0 && b9 === 0 && b10 === 0 && b11 === 0;
  // `::` and `::1` are IPv6's own unspecified and loopback addresses.
  if (compatible && (b12 !== 0 || b13 !== 0 || b14 !== 0 || (b15 ?? 0) > 1)) return tail;
  return undefined;
}

/**
 * Normalises an address for display and logs: IPv4 dotted, IPv6 that stands for an
 * IPv4 address (see `embeddedV4`) as that address, other IPv6 in RFC 5952 form. `undefined` when it does not parse.
 *
 * @example
 * normalizeIp("::FFFF:192.0.2.1"); // "192.0.2.1"
 * normalizeIp("[2001:db8:0::1]");  // "2001:db8::1"
 */
export function normalizeIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip && formatIp(unmap(ip));
}

/**
 * The limiting key for an address. IPv4 (and IPv4-mapped IPv6) is keyed by the
 * address; IPv6 by its `/ipv6Subnet` network, because one customer is usually
 * given a whole /48–/64 and could otherwise rotate addresses to dodge a limit.
 *
 * Throws `RangeError` when `ipv6Subnet` is not an integer in 0–128 (policy
 * validation guarantees it; this is a programming error, not a request error).
 *
 * @example
 * ipKey("203.0.113.9", 56);                  // "203.0.113.9"
 * ipKey("::ffff:1.2.3.4", 56);               // "1.2.3.4"
 * ipKey("2001:db8:1200:ff:1:2:3:4", 56);     // "2001:db8:1200::/56"
 * ipKey("not an ip", 56);                    // undefined
 */
export function ipKey(text: string, ipv6Subnet: number): string | undefined {
  if (!Number.isInteger(ipv6Subnet) || ipv6Subnet < 0 || ipv6Subnet > 128) {
    throw new RangeError(`ERR_SLUICE_IPV6_SUBNET: expected an integer 0–128, got ${ipv6Subnet}`);
  }
  const parsed = parseIp(text);
  if (!parsed) return undefined;
  const ip = unmap(parsed);
  if (ip.version === 4) return formatIp(ip);
  const net = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.min(8, Math.max(0, ipv6Subnet - 8 * i));
    net[i] = (ip.bytes[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return `${formatIp({ version: 6, bytes: net })}/${ipv6Subnet}`;
}

/**
 * The client address from trusted headers, normalised (see `normalizeIp`), or
 * `undefined` when it is missing or malformed. Never falls back to another
 * header or to an entry the client could have written.
 *
 * - `cf-connecting-ip`: reads `CF-Connecting-IP` only, which Cloudflare's edge
 *   sets itself; `X-Forwarded-For` is ignored entirely, since any client can send it.
 * - `x-forwarded-for`: every XFF line, combined, as one comma-separated list
 *   (RFC 9110 §5.3; empty elements ignored per §5.6.1). Each proxy appends the
 *   address it saw on the right, so the entry `trustedHops` from the right is
 *   the one our outermost trusted proxy saw; everything left of it is
 *   client-supplied and never used. Too few entries or an invalid one (ports
 *   included) → `undefined`.
 *
 * @example
 * const h = new Headers({ "x-forwarded-for": "6.6.6.6, 203.0.113.7" });
 * clientIp(h, { source: "x-forwarded-for", trustedHops: 1, ipv6Subnet: 56 }); // "203.0.113.7"
 * clientIp(h, { source: "cf-connecting-ip", trustedHops: 1, ipv6Subnet: 56 }); // undefined
 */
export function clientIp(headers: Headers, cfg: IdentityConfig["ip"]): string | undefined {
  if (cfg.source === "cf-connecting-ip") {
    const value = headers.get("cf-connecting-ip");
    return value === null ? undefined : normalizeIp(value.trim());
  }
  if (!Number.isInteger(cfg.trustedHops) || cfg.trustedHops < 1) {
    throw new RangeError(
      `ERR_SLUICE_TRUSTED_HOPS: expected an integer ≥ 1, got ${cfg.trustedHops}`,
    );
  }
  // Headers.get joins repeated lines with ", ", so this sees the whole list in order.
  const value = headers.get("x-forwarded-for");
  if (value === null) return undefined;
  const entries = value
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  const entry = entries[entries.length - cfg.trustedHops];
  return entry === undefined ? undefined : normalizeIp(entry);
}
