/** @module test/node/cli/rollout — `sluice policy diff` and `sluice policy replay` on files, offline. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";

const dir = mkdtempSync(path.join(tmpdir(), "sluice-rollout-"));
function file(name: string, value: unknown): string {
  const p = path.join(dir, name);
  writeFileSync(p, typeof value === "string" ? value : JSON.stringify(value));
  return p;
}

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), env: {} });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const OLD = {
  rules: [
    { name: "login", match: { path: "/login" }, limits: [{ rate: "5/min" }] },
    {
      name: "api",
      match: { path: "/api/*" },
      limits: [
        { rate: "100/min", by: "apiKey" },
        { rate: "1000/h" },
        { rate: "10/s", by: "global" },
      ],
    },
  ],
};
const NEW = {
  rules: [
    { name: "login", match: { path: "/login" }, limits: [{ rate: "3/min" }], countRejected: true },
    {
      name: "api",
      match: { path: "/api/*" },
      limits: [
        { rate: "200/min", by: "apiKey" },
        { rate: "1000/h", algorithm: "sliding-window" },
        { rate: "50/day", by: "apiKey" },
      ],
    },
  ],
};

describe("sluice policy diff", () => {
  it("says which limits change and which counters carry over, reset, start or are abandoned", async () => {
    const res = await cli([
      "policy",
      "diff",
      file("old.json", OLD),
      file("new.json", NEW),
      "--json",
    ]);
    expect(res.code).toBe(0);
    const rows = JSON.parse(res.out).rows as Array<Record<string, string>>;
    const row = (rule: string, limit: string) =>
      rows.find((r) => r.rule === rule && r.limit === limit);
    expect(row("login", "ip-1m")).toMatchObject({
      change: "changed",
      counters: "carry over",
      detail: "count 5 → 3; burst 5 → 3",
    });
    expect(row("login", "")?.detail).toContain("countRejected false → true");
    expect(row("api", "apikey-1m")).toMatchObject({
      counters: "carry over",
      detail: "count 100 → 200; burst 100 → 200",
    });
    expect(row("api", "ip-1h")).toMatchObject({
      counters: "reset",
      key: "sluice:api:ip-1h~sw:<ip> (was sluice:api:ip-1h:<ip>)",
    });
    expect(row("api", "global-1s")).toMatchObject({ change: "removed", counters: "abandoned" });
    expect(row("api", "apikey-1d")).toMatchObject({ change: "added", counters: "start empty" });
    const text = await cli(["policy", "diff", file("old.json", OLD), file("new.json", NEW)]);
    expect(text.out).toMatch(/^RULE\s+LIMIT\s+CHANGE\s+COUNTERS\s+DETAIL/);
    expect(text.out).toContain("0 limit(s) unchanged");
  });

  it("refuses an invalid policy with its coded errors", async () => {
    const res = await cli([
      "policy",
      "diff",
      file("old.json", OLD),
      file("bad.json", { rules: [] }),
    ]);
    expect(res.code).toBe(1);
    expect(res.err).toContain("ERR_SLUICE_EMPTY");
  });
});

describe("sluice policy replay", () => {
  it("replays logged decisions with the reference models and names who would now be denied", async () => {
    const at = (s: number) => new Date(1_780_000_000_000 + s * 1000).toISOString();
    const line = (s: number, ipKey: string, outcome = "allowed") =>
      JSON.stringify({
        msg: "sluice.decision",
        rule: "login",
        outcome,
        method: "GET",
        path: "/login",
        ipKey,
        limits: [],
        at: at(s),
      });
    const log = [
      ...[0, 1, 2, 3, 4].map((s) => line(s, "203.0.113.7")),
      line(5, "203.0.113.7", "denied"),
      line(6, "198.51.100.1"),
      `2026-01-01T00:00:00Z ${line(7, "198.51.100.1")}`,
      JSON.stringify({
        logs: [
          {
            message: [JSON.stringify({ ...JSON.parse(line(8, "198.51.100.1")), at: undefined })],
            timestamp: 1_780_000_008_000,
          },
        ],
      }),
      "not a decision",
      JSON.stringify({
        msg: "sluice.decision",
        rule: "login",
        outcome: "refunded",
        method: "GET",
        path: "/login",
        ipKey: "x",
        limits: [],
        at: at(9),
      }),
    ].join("\n");
    const res = await cli([
      "policy",
      "replay",
      file("decisions.log", log),
      file("new.json", NEW),
      "--json",
    ]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.out)).toEqual({
      replayed: 9,
      skipped: 1,
      nowDenied: 2,
      nowAdmitted: 0,
      subjects: [{ subject: "ip:203.0.113.7", rule: "login", denied: 2, firstAt: at(3) }],
    });
    const text = await cli(["policy", "replay", file("decisions.log", log), file("new.json", NEW)]);
    expect(text.out.split("\n")[0]).toBe(
      "9 decision(s) replayed, 1 skipped: 2 admitted then would now be denied, 0 denied then would now be admitted",
    );
  });
});
