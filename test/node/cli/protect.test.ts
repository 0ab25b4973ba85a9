/** @module test/node/cli/protect — `sluice lists …` and `sluice bans …` against a fake admin API: what they send, what they print. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Answer, type FakeAdmin, fakeAdmin, problems, sluice } from "./helpers.ts";

const ADMIN = "/__sluice/admin";
const NOW = Date.parse("2026-12-01T00:00:00Z");
let admin: FakeAdmin;
let answers: Record<string, Answer>;
const env = () => ({ SLUICE_URL: admin.url, SLUICE_ADMIN_TOKEN: "t0ken", USER: "ops" });
const run = (argv: string[]) => sluice(argv, env(), { now: () => NOW });

const BLOCKED = {
  name: "blocked",
  action: "deny",
  policy: { ips: ["198.51.100.0/24"], tenants: [], countries: [] },
  entries: [
    {
      kind: "ip",
      value: "203.0.113.0/26",
      reason: "credential stuffing",
      actor: "ops",
      createdAt: "2026-12-01T00:00:00.000Z",
      expiresAt: "2026-12-08T00:00:00.000Z",
    },
  ],
};
const BAN = {
  rule: "login",
  subject: "ip:203.0.113.7",
  level: 2,
  until: "2026-12-01T00:20:00.000Z",
  retryAfter: 1200,
};

beforeAll(async () => {
  admin = await fakeAdmin((method, path) => answers[`${method} ${path.replace(ADMIN, "")}`]);
});
afterAll(() => admin.close());
beforeEach(() => {
  admin.seen.length = 0;
  answers = {};
});

describe("sluice lists", () => {
  it("adds entries with a reason and an expiry from now, and shows the list", async () => {
    answers = { "POST /lists/blocked": { json: { list: BLOCKED, added: 1 } } };
    const r = await run([
      "lists",
      "add",
      "blocked",
      "--ip",
      "203.0.113.0/26, 2001:db8:bad::/48",
      "--reason",
      "credential stuffing",
      "--expires",
      "7d",
    ]);
    expect(r.code).toBe(0);
    expect(admin.seen[0]?.body).toEqual({
      ips: ["203.0.113.0/26", "2001:db8:bad::/48"],
      reason: "credential stuffing",
      expiresAt: "2026-12-08T00:00:00.000Z",
    });
    expect(r.out.split("\n").slice(0, 2)).toEqual([
      "added 1 to list blocked",
      "list blocked (deny)",
    ]);
    expect(r.out).toContain("203.0.113.0/26");
    expect(r.out).toMatch(/198\.51\.100\.0\/24\s+policy/);
  });

  it("removes entries with DELETE, and lists every list", async () => {
    answers = {
      "DELETE /lists/blocked": { json: { list: { ...BLOCKED, entries: [] }, removed: 1 } },
      "GET /lists": { json: { lists: [BLOCKED] } },
    };
    const removed = await run(["lists", "remove", "blocked", "--country", "kp"]);
    expect(removed.code).toBe(0);
    expect(admin.seen[0]).toMatchObject({ method: "DELETE", body: { countries: ["kp"] } });
    const all = await run(["lists", "list"]);
    expect(all.out.split("\n")).toEqual([
      "LIST     ACTION  POLICY  RUNTIME",
      "blocked  deny    1       1",
    ]);
  });

  it("needs an entry and a reason before calling the gateway, and names the flag the gateway refused", async () => {
    expect(await run(["lists", "add", "blocked", "--reason", "x"])).toMatchObject({
      code: 2,
      err: expect.stringContaining("give at least one of --ip, --tenant or --country"),
    });
    expect((await run(["lists", "add", "blocked", "--ip", "10.0.0.0/8"])).err).toContain(
      "--reason is required",
    );
    expect(admin.seen).toEqual([]);
    answers = {
      "POST /lists/blocked": problems.badRequest("ips", '"10.0.0.1/8": has host bits set'),
    };
    const bad = await run(["lists", "add", "blocked", "--ip", "10.0.0.1/8", "--reason", "x"]);
    expect(bad).toMatchObject({ code: 2, err: 'sluice: --ip: "10.0.0.1/8": has host bits set' });
  });
});

describe("sluice bans", () => {
  it("lists bans in force, for one rule on request", async () => {
    answers = { "GET /bans?rule=login": { json: { bans: [BAN] } } };
    const r = await run(["bans", "list", "--rule", "login"]);
    expect(r.out.split("\n")).toEqual([
      "RULE   SUBJECT         LEVEL  UNTIL                     LEFT",
      "login  ip:203.0.113.7  2      2026-12-01T00:20:00.000Z  20 min",
    ]);
    answers = { "GET /bans": { json: { bans: [] } } };
    expect((await run(["bans", "list"])).out).toBe("no bans in force");
  });

  it("lifts a subject's bans, its address encoded in the path", async () => {
    answers = {
      "DELETE /bans/ip%3A2001%3Adb8%3A%3A1": { json: { subject: "ip:2001:db8::1", lifted: [BAN] } },
    };
    const r = await run(["bans", "lift", "ip:2001:db8::1"]);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe("lifted 1 ban(s) on ip:2001:db8::1");
    answers = { "DELETE /bans/ip%3A192.0.2.1": problems.notFound('A ban on "ip:192.0.2.1"') };
    expect(await run(["bans", "lift", "ip:192.0.2.1"])).toMatchObject({
      code: 1,
      err: 'sluice: A ban on "ip:192.0.2.1" does not exist.',
    });
  });
});

describe("sluice bans lift with an IPv6 subnet", () => {
  it("sends the subnet's network address, since paths may not carry an encoded /", async () => {
    answers = {
      "DELETE /bans/ip%3A2001%3Adb8%3A1200%3A%3A": {
        json: { subject: "ip:2001:db8:1200::", lifted: [] },
      },
    };
    expect((await run(["bans", "lift", "ip:2001:db8:1200::/56"])).code).toBe(0);
  });
});
