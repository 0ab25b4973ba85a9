/** @module test/node/identity/ip — parsing, RFC 5952 formatting, subnet keys, client address extraction. */
import { describe, expect, it } from "vitest";
import { clientIp, formatIp, ipKey, normalizeIp, parseIp } from "../../../src/identity/ip.ts";
import type { IdentityConfig } from "../../../src/policy/types.ts";

const bytes = (text: string) => {
  const ip = parseIp(text);
  return ip && { version: ip.version, bytes: [...ip.bytes] };
};

describe("parseIp", () => {
  it.each([
    ["0.0.0.0", [0, 0, 0, 0]],
    ["192.0.2.1", [192, 0, 2, 1]],
    ["255.255.255.255", [255, 255, 255, 255]],
    ["10.0.10.100", [10, 0, 10, 100]],
  ])("accepts IPv4 %s", (text, expected) => {
    expect(bytes(text)).toEqual({ version: 4, bytes: expected });
  });

  it.each([
    ["::", [0, 0, 0, 0, 0, 0, 0, 0]],
    ["::1", [0, 0, 0, 0, 0, 0, 0, 1]],
    ["1::", [1, 0, 0, 0, 0, 0, 0, 0]],
    ["2001:db8::1", [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
    ["2001:DB8:0:0:8:800:200C:417A", [0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a]],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
    ["1:2:3:4:5:6:7::", [1, 2, 3, 4, 5, 6, 7, 0]],
    ["::2:3:4:5:6:7:8", [0, 2, 3, 4, 5, 6, 7, 8]],
    ["::ffff:192.0.2.1", [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]],
    ["64:ff9b::198.51.100.7", [0x64, 0xff9b, 0, 0, 0, 0, 0xc633, 0x6407]],
    ["1:2:3:4:5:6:1.2.3.4", [1, 2, 3, 4, 5, 6, 0x0102, 0x0304]],
    ["[2001:db8::1]", [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
    ["[::ffff:1.2.3.4]", [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]],
  ])("accepts IPv6 %s", (text, words) => {
    const expected = words.flatMap((w) => [w >> 8, w & 0xff]);
    expect(bytes(text)).toEqual({ version: 6, bytes: expected });
  });

  it.each([
    "",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "1.2.3.-1",
    "01.2.3.4", // leading zero: octal to some parsers
    "1.2.3.004",
    "1.2.3.4:80", // ports are not addresses
    "1.2.3.4/24",
    "0x7f.0.0.1",
    "1e2.0.0.1",
    "[1.2.3.4]", // brackets are for IPv6 only
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    ":1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7::8", // "::" must stand for at least one group
    "::1:2:3:4:5:6:7:8",
    "12345::1",
    "g::1",
    "fe80::1%eth0", // zone ids rejected
    "fe80::1%25eth0",
    "[::1]:443",
    "[::1",
    "::1]",
    "::1.2.3.4:5", // IPv4 tail must be last
    "::1.2.3.4.5",
    "1.2.3.4::",
    "::ffff:1.2.3.04",
    "::ffff:256.0.0.1",
    "1:2:3:4:5:6:7:1.2.3.4", // 9 groups' worth
    "localhost",
    "a".repeat(100),
  ])("rejects %j", (text) => {
    expect(parseIp(text)).toBeUndefined();
  });
});

describe("formatIp (RFC 5952)", () => {
  it.each([
    ["192.0.2.1", "192.0.2.1"],
    ["2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"], // §4.1 no leading zeros, §4.3 lower case
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // §4.2.3 first of equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // §4.2.2 one 0 group is not compressed
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // §4.2.3 longest run wins
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["2001:db8::", "2001:db8::"],
    ["fe80:0000:0000:0000:0204:61ff:fe9d:f156", "fe80::204:61ff:fe9d:f156"],
    ["::ffff:c000:0201", "::ffff:192.0.2.1"], // §5 mixed notation for IPv4-mapped
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
  ])("%s → %s", (input, expected) => {
    const ip = parseIp(input);
    expect(ip).toBeDefined();
    if (ip) expect(formatIp(ip)).toBe(expected);
  });
});

describe("normalizeIp", () => {
  it.each([
    ["::ffff:1.2.3.4", "1.2.3.4"],
    ["::FFFF:c000:201", "192.0.2.1"],
    ["[2001:DB8:0::1]", "2001:db8::1"],
    ["::1.2.3.4", "1.2.3.4"], // deprecated IPv4-compatible form stands for its IPv4 address
    ["bogus", undefined],
  ])("%s → %s", (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });
});

describe("ipKey", () => {
  it.each([
    ["203.0.113.9", 56, "203.0.113.9"],
    ["::ffff:1.2.3.4", 56, "1.2.3.4"],
    ["[::ffff:1.2.3.4]", 64, "1.2.3.4"],
    // IPv4-translated (RFC 2765) and IPv4-compatible (RFC 4291 §2.5.5.1): their IPv4 address, not all of ::/56.
    ["::ffff:0:1.2.3.4", 56, "1.2.3.4"],
    ["::1.2.3.4", 56, "1.2.3.4"],
    ["::5.6.7.8", 56, "5.6.7.8"],
    // IPv6's own loopback and unspecified addresses stay IPv6.
    ["::1", 56, "::/56"],
    ["::", 56, "::/56"],
    ["2001:db8:1200:ff:1:2:3:4", 56, "2001:db8:1200::/56"],
    ["2001:db8:1234:5678:9abc:def0:1234:5678", 56, "2001:db8:1234:5600::/56"],
    ["2001:db8:1234:5678:9abc:def0:1234:5678", 64, "2001:db8:1234:5678::/64"],
    ["2001:db8:1234:5678:9abc:def0:1234:5678", 48, "2001:db8:1234::/48"],
    ["2001:db8:1234:5678:9abc:def0:1234:5678", 32, "2001:db8::/32"],
    ["2001:db8:1234:5678:9abc:def0:1234:5678", 128, "2001:db8:1234:5678:9abc:def0:1234:5678/128"],
    ["2001:db8:1234:5678:9abc:def0:1234:5678", 0, "::/0"],
    ["2001:db8:1234:56ff::1", 60, "2001:db8:1234:56f0::/60"],
    ["2001:DB8:1234:5678::", 56, "2001:db8:1234:5600::/56"],
  ])("%s /%i → %s", (text, subnet, expected) => {
    expect(ipKey(text, subnet)).toBe(expected);
  });

  it("puts two hosts of one /56 under one key and another /56 under another", () => {
    const a = ipKey("2001:db8:1200:1::1", 56);
    const b = ipKey("2001:db8:1200:ff:ffff::9", 56);
    const c = ipKey("2001:db8:1201::1", 56);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  it("returns undefined for invalid input", () => {
    expect(ipKey("1.2.3.4:80", 56)).toBeUndefined();
    expect(ipKey("", 56)).toBeUndefined();
  });

  it.each([-1, 129, 56.5, Number.NaN])("throws on subnet %s", (subnet) => {
    expect(() => ipKey("::1", subnet)).toThrow(/ERR_SLUICE_IPV6_SUBNET/);
  });
});

describe("clientIp", () => {
  const cf: IdentityConfig["ip"] = { source: "cf-connecting-ip", trustedHops: 1, ipv6Subnet: 56 };
  const xff = (trustedHops: number): IdentityConfig["ip"] => ({
    source: "x-forwarded-for",
    trustedHops,
    ipv6Subnet: 56,
  });

  it("reads CF-Connecting-IP and normalises it", () => {
    expect(clientIp(new Headers({ "CF-Connecting-IP": "203.0.113.7" }), cf)).toBe("203.0.113.7");
    expect(clientIp(new Headers({ "cf-connecting-ip": " 2001:DB8::0001 " }), cf)).toBe(
      "2001:db8::1",
    );
    expect(clientIp(new Headers({ "cf-connecting-ip": "::ffff:1.2.3.4" }), cf)).toBe("1.2.3.4");
  });

  it("ignores a spoofed X-Forwarded-For under the default source", () => {
    const headers = new Headers({
      "cf-connecting-ip": "203.0.113.7",
      "x-forwarded-for": "6.6.6.6, 7.7.7.7",
    });
    expect(clientIp(headers, cf)).toBe("203.0.113.7");
    expect(clientIp(new Headers({ "x-forwarded-for": "6.6.6.6" }), cf)).toBeUndefined();
  });

  it("returns undefined for a missing or malformed CF-Connecting-IP", () => {
    expect(clientIp(new Headers(), cf)).toBeUndefined();
    expect(clientIp(new Headers({ "cf-connecting-ip": "" }), cf)).toBeUndefined();
    expect(clientIp(new Headers({ "cf-connecting-ip": "1.2.3.4:5" }), cf)).toBeUndefined();
  });

  it("takes the rightmost XFF entry with one trusted hop", () => {
    const headers = new Headers({ "x-forwarded-for": "6.6.6.6, 198.51.100.1 ,203.0.113.7" });
    expect(clientIp(headers, xff(1))).toBe("203.0.113.7");
  });

  it("takes the second entry from the right with two trusted hops", () => {
    const headers = new Headers({ "x-forwarded-for": "6.6.6.6, 198.51.100.1, 203.0.113.7" });
    expect(clientIp(headers, xff(2))).toBe("198.51.100.1");
  });

  it("combines every XFF header line in order", () => {
    const headers = new Headers();
    headers.append("x-forwarded-for", "6.6.6.6");
    headers.append("x-forwarded-for", "198.51.100.1");
    headers.append("x-forwarded-for", "203.0.113.7");
    expect(clientIp(headers, xff(1))).toBe("203.0.113.7");
    expect(clientIp(headers, xff(2))).toBe("198.51.100.1");
    expect(clientIp(headers, xff(3))).toBe("6.6.6.6");
  });

  it("ignores empty list elements (RFC 9110 §5.6.1)", () => {
    const headers = new Headers({ "x-forwarded-for": "6.6.6.6,, 198.51.100.1, ,203.0.113.7," });
    expect(clientIp(headers, xff(2))).toBe("198.51.100.1");
  });

  it("never falls back further left when the trusted entry is invalid", () => {
    const headers = new Headers({ "x-forwarded-for": "6.6.6.6, unknown, 203.0.113.7" });
    expect(clientIp(headers, xff(2))).toBeUndefined();
    const withPort = new Headers({ "x-forwarded-for": "6.6.6.6, 203.0.113.7:5555" });
    expect(clientIp(withPort, xff(1))).toBeUndefined();
  });

  it("returns undefined with fewer entries than trusted hops, or no header", () => {
    expect(clientIp(new Headers({ "x-forwarded-for": "203.0.113.7" }), xff(2))).toBeUndefined();
    expect(clientIp(new Headers({ "x-forwarded-for": " , " }), xff(1))).toBeUndefined();
    expect(clientIp(new Headers(), xff(1))).toBeUndefined();
  });

  it("does not read CF-Connecting-IP under the x-forwarded-for source", () => {
    expect(clientIp(new Headers({ "cf-connecting-ip": "203.0.113.7" }), xff(1))).toBeUndefined();
  });

  it("normalises IPv6 and IPv4-mapped XFF entries", () => {
    const headers = new Headers({ "x-forwarded-for": "[2001:DB8::1], ::ffff:203.0.113.7" });
    expect(clientIp(headers, xff(1))).toBe("203.0.113.7");
    expect(clientIp(headers, xff(2))).toBe("2001:db8::1");
  });

  it.each([0, -1, 1.5])("throws on trustedHops %s", (hops) => {
    expect(() => clientIp(new Headers({ "x-forwarded-for": "1.2.3.4" }), xff(hops))).toThrow(
      /ERR_SLUICE_TRUSTED_HOPS/,
    );
  });
});
