/** @module test/node/protect/cidr — CIDR parsing and matching: exact for IPv4, IPv6 and IPv4-mapped IPv6, checked against a naive matcher. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Address, addressOf, CidrSet, parseCidr } from "../../../src/protect/cidr.ts";

const at = (text: string): Address => {
  const a = addressOf(text);
  if (!a) throw new Error(`not an address: ${text}`);
  return a;
};

describe("addressOf", () => {
  it("reads IPv6 that stands for an IPv4 address as that address: mapped, translated, compatible", () => {
    const v4 = at("192.0.2.1");
    expect(at("::ffff:192.0.2.1")).toEqual(v4);
    expect(at("::ffff:0:192.0.2.1")).toEqual(v4);
    expect(at("::192.0.2.1")).toEqual(v4);
    expect(CidrSet.from(["192.0.2.0/24"]).has(at("::ffff:0:192.0.2.77"))).toBe(true);
    expect(at("::1")).toHaveProperty("v6");
  });
});

describe("parseCidr", () => {
  it("reads addresses and ranges in canonical form", () => {
    expect(parseCidr("198.51.100.0/24")).toMatchObject({ text: "198.51.100.0/24" });
    expect(parseCidr("192.0.2.1")).toMatchObject({
      text: "192.0.2.1",
      v4: [3221225985, 3221225985],
    });
    expect(parseCidr("192.0.2.1/32")).toMatchObject({ text: "192.0.2.1" });
    expect(parseCidr("2001:DB8:0::/32")).toMatchObject({ text: "2001:db8::/32" });
    expect(parseCidr("0.0.0.0/0")).toMatchObject({ text: "0.0.0.0/0", v4: [0, 0xffffffff] });
  });

  it("reads IPv4-mapped IPv6 as the IPv4 range it maps", () => {
    expect(parseCidr("::ffff:10.0.0.0/104")).toEqual({
      text: "10.0.0.0/8",
      v4: [0x0a000000, 0x0affffff],
    });
    expect(parseCidr("::ffff:192.0.2.1")).toMatchObject({ text: "192.0.2.1" });
  });

  it("refuses host bits, bad prefixes and anything not an address", () => {
    expect(parseCidr("10.0.0.1/8")).toBe('has host bits set; the range is "10.0.0.0/8"');
    expect(parseCidr("2001:db8::1/32")).toBe('has host bits set; the range is "2001:db8::/32"');
    expect(parseCidr("10.0.0.0/33")).toBe('expected a prefix length from 0 to 32 after "/"');
    expect(parseCidr("10.0.0.0/08")).toBe('expected a prefix length from 0 to 32 after "/"');
    expect(parseCidr("::/129")).toBe('expected a prefix length from 0 to 128 after "/"');
    for (const bad of [
      "",
      "10.0.0",
      "010.0.0.0/8",
      "example.com",
      "[::1]",
      "10.0.0.0/",
      "fe80::1%eth0",
    ]) {
      expect(typeof parseCidr(bad), bad).toBe("string");
    }
  });
});

describe("CidrSet", () => {
  const set = CidrSet.from([
    "198.51.100.0/24",
    "203.0.113.7",
    "2001:db8::/32",
    "2001:db8::/48", // inside the /32: merged
    "10.0.0.0/25",
    "10.0.0.128/25", // adjacent: one interval
  ]);

  it("matches inside ranges and at both ends, and nothing outside", () => {
    for (const yes of ["198.51.100.0", "198.51.100.255", "203.0.113.7", "10.0.0.0", "10.0.0.255"]) {
      expect(set.has(at(yes)), yes).toBe(true);
    }
    for (const no of ["198.51.99.255", "198.51.101.0", "203.0.113.6", "203.0.113.8", "10.0.1.0"]) {
      expect(set.has(at(no)), no).toBe(false);
    }
    expect(set.has(at("2001:db8::"))).toBe(true);
    expect(set.has(at("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"))).toBe(true);
    expect(set.has(at("2001:db9::"))).toBe(false);
    expect(set.has(at("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"))).toBe(false);
    expect(set.size).toBe(4);
  });

  it("matches an IPv4 client arriving as IPv4-mapped IPv6, and the reverse", () => {
    expect(set.has(at("::ffff:198.51.100.9"))).toBe(true);
    const mapped = CidrSet.from(["::ffff:198.51.100.0/120"]);
    expect(mapped.has(at("198.51.100.9"))).toBe(true);
    expect(mapped.has(at("198.51.101.9"))).toBe(false);
  });

  it("lets ::/0 hold every address, IPv4 included", () => {
    const all = CidrSet.from(["::/0"]);
    expect(all.has(at("1.2.3.4"))).toBe(true);
    expect(all.has(at("2001:db8::1"))).toBe(true);
    const v4only = CidrSet.from(["0.0.0.0/0"]);
    expect(v4only.has(at("2001:db8::1"))).toBe(false);
  });

  it("agrees with a naive matcher on random ranges and addresses", () => {
    const v4 = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }));
    fc.assert(
      fc.property(
        fc.array(v4, { maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 40 }),
        (ranges, probes) => {
          const texts = ranges.map(([a, p]) => {
            const network = p === 0 ? 0 : (a >>> (32 - p)) << (32 - p);
            return `${dotted(network >>> 0)}/${p}`;
          });
          const built = CidrSet.from(texts);
          for (const x of [...probes, ...ranges.map(([a]) => a)]) {
            const naive = ranges.some(([a, p]) => p === 0 || a >>> (32 - p) === x >>> (32 - p));
            expect(built.has({ v4: x })).toBe(naive);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

function dotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

describe("the CIDR benchmark", () => {
  it("prints one row per size and family", async () => {
    const { cidrTable, runCidrBench } = await import("../../../bench/cidr.ts");
    const rows = runCidrBench({ sizes: [50], lookups: 200 });
    expect(rows.map((r) => [r.ranges, r.family])).toEqual([
      [50, "IPv4"],
      [50, "IPv6"],
      [50, "mixed"],
    ]);
    expect(cidrTable(rows).split("\n")).toHaveLength(5);
  });
});
