/** @module test/node/cli/render — `sluice usage` explains itself: rates, capacity, Sluice's own counters, and where else requests count. */
import { describe, expect, it } from "vitest";
import type { UsageLimit } from "../../../src/cli/api.ts";
import { rate, usageTable } from "../../../src/cli/render.ts";

const row = (l: Partial<UsageLimit>): UsageLimit => ({
  rule: "api",
  limit: "ip-1s",
  count: 100,
  periodMs: 1000,
  remaining: 100,
  resetMs: 0,
  ...l,
});

describe("rate", () => {
  it.each([
    [5, 1000, undefined, "5/s"],
    [100, 1000, 200, "100/s burst 200"],
    [1000, 86_400_000, undefined, "1000/day"],
    [5, 60_000, undefined, "5/min"],
    [100, 30_000, undefined, "100/30s"],
    [10, 500, undefined, "10/500ms"],
    [3, 7_200_000, undefined, "3/2h"],
  ])("%s per %s ms, burst %s → %s", (count, periodMs, burst, text) => {
    expect(rate(count, periodMs, burst)).toBe(text);
  });
});

describe("usageTable", () => {
  it("counts remaining out of the burst, never 200 of 100", () => {
    const out = usageTable("ip:127.0.0.1", {
      limits: [
        row({ burst: 200, remaining: 200 }),
        row({
          limit: "tenant-1d",
          count: 1000,
          periodMs: 86_400_000,
          burst: 1000,
          remaining: 996,
          resetMs: 345_600,
        }),
      ],
    });
    expect(out.split("\n")).toEqual([
      "RULE  LIMIT      RATE             REMAINING    FULL AGAIN",
      "api   ip-1s      100/s burst 200  200 of 200   now",
      "api   tenant-1d  1000/day         996 of 1000  in 6 min",
    ]);
  });

  it("labels Sluice's own counters by what they count, after the policy's rules", () => {
    const out = usageTable("ip:127.0.0.1", {
      limits: [
        row({
          rule: "__auth",
          limit: "failures",
          count: 10,
          periodMs: 60_000,
          remaining: 10,
          internal: "failed API keys",
        }),
        row({
          rule: "__admin_auth",
          limit: "failures",
          count: 10,
          periodMs: 60_000,
          remaining: 9,
          resetMs: 6000,
          internal: "failed admin tokens",
        }),
        row({}),
      ],
    });
    const lines = out.split("\n");
    expect(lines[1]).toMatch(/^api\s/);
    expect(lines[2]).toMatch(/^\(failed API keys\)\s+failures\s+10\/min\s+10 of 10\s+now$/);
    expect(lines[3]).toMatch(/^\(failed admin tokens\)\s+failures\s+10\/min\s+9 of 10\s+in 6 s$/);
    expect(out).not.toContain("__auth");
  });

  it("reads an older gateway's answer (no burst) as out of the count", () => {
    expect(usageTable("tenant:acme", { limits: [row({ remaining: 4, count: 5 })] })).toContain(
      "4 of 5",
    );
  });

  it("says which rules count a subject that has no counters, and whom to ask", () => {
    const out = usageTable("key:591daab6fef99baf", {
      limits: [],
      elsewhere: [
        { by: "tenant", rules: ["api"], subject: "tenant:acme" },
        { by: "ip", rules: ["login", "api", "default"] },
        { by: "header:x-user", rules: ["uploads"] },
      ],
    });
    expect(out.split("\n")).toEqual([
      "no limit counts by key:591daab6fef99baf; the same requests are counted by:",
      "  tenant         rule api                   sluice usage tenant:acme",
      "  ip             rules login, api, default  sluice usage ip:<address>",
      "  header:x-user  rule uploads",
    ]);
  });

  it("says so when nothing else counts either", () => {
    expect(usageTable("tenant:acme", { limits: [], elsewhere: [] })).toBe(
      "no limit counts by tenant:acme; the policy has no other limits either",
    );
  });
});
