/** @module test/node/cli/args — argument parsing, expiries and tables of the sluice CLI. */
import { describe, expect, it } from "vitest";
import { expiryFrom, parseArgs, UsageError } from "../../../src/cli/args.ts";
import { table } from "../../../src/cli/format.ts";
import { main } from "../../../src/cli/main.ts";

describe("parseArgs", () => {
  const spec = { tenant: "value", json: "flag" } as const;

  it("splits words from --name value, --name=value and flags", () => {
    expect(parseArgs(["create", "--tenant", "acme", "x", "--json"], spec)).toEqual({
      words: ["create", "x"],
      options: { tenant: "acme", json: true },
    });
    expect(parseArgs(["--tenant=a=b"], spec).options.tenant).toBe("a=b");
  });

  it.each([
    [["--plan", "pro"], "unknown option --plan; expected one of --tenant, --json"],
    [["--tenant"], "--tenant needs a value"],
    [["--tenant", "--json"], "--tenant needs a value"],
    [["--tenant", "a", "--tenant", "b"], "--tenant given twice"],
    [["--json=yes"], "--json takes no value"],
    [["-x"], "unknown option -x"],
  ])("refuses %j: %s", (argv, message) => {
    expect(() => parseArgs(argv, spec)).toThrow(new UsageError(message));
  });
});

describe("expiryFrom", () => {
  const now = Date.parse("2026-11-22T00:00:00Z");
  it("reads durations and ISO times", () => {
    expect(expiryFrom("30d", now)).toBe("2026-12-22T00:00:00.000Z");
    expect(expiryFrom("90m", now)).toBe("2026-11-22T01:30:00.000Z");
    expect(expiryFrom("2027-01-01T00:00:00Z", now)).toBe("2027-01-01T00:00:00.000Z");
  });
  it("refuses anything else", () => {
    expect(() => expiryFrom("next week", now)).toThrow(UsageError);
    expect(() => expiryFrom("30", now)).toThrow(UsageError);
  });
});

describe("table", () => {
  it("aligns columns and shows missing values as -", () => {
    expect(
      table(
        ["ID", "PLAN", "NAME"],
        [
          ["acme", "pro", undefined],
          ["b", "free", "Bee"],
        ],
      ),
    ).toBe(["ID    PLAN  NAME", "acme  pro   -", "b     free  Bee"].join("\n"));
  });
});

describe("main, without a gateway", () => {
  function run(argv: string[], env: Record<string, string> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env };
    return main(argv, io).then((code) => ({ code, out: out.join("\n"), err: err.join("\n") }));
  }

  it("prints help with exit 0, and usage errors with exit 2", async () => {
    expect((await run(["--help"])).out).toContain("keys create");
    expect((await run(["keys", "revoke", "--help"])).out).toContain(
      "usage: sluice keys revoke <key-id>",
    );
    const unknown = await run(["keyz", "list"]);
    expect(unknown).toMatchObject({
      code: 2,
      err: expect.stringContaining('unknown command "keyz list"'),
    });
    const noToken = await run(["keys", "list"]);
    expect(noToken).toMatchObject({
      code: 2,
      err: expect.stringContaining("no admin token: set SLUICE_ADMIN_TOKEN"),
    });
    const badUrl = await run(["keys", "list", "--url", "not a url"], { SLUICE_ADMIN_TOKEN: "t" });
    expect(badUrl.code).toBe(2);
    expect(badUrl.err).toContain('--url "not a url" is not a URL');
    const missing = await run(["keys", "revoke"], { SLUICE_ADMIN_TOKEN: "t" });
    expect(missing).toMatchObject({ code: 2, err: expect.stringContaining("missing <key-id>") });
  });

  it("reports errors as JSON on stderr with --json", async () => {
    const r = await run(["tenants", "create", "acme", "--json"], { SLUICE_ADMIN_TOKEN: "t" });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.err)).toEqual({ error: { kind: "usage", message: "--plan is required" } });
  });

  it("never follows a redirect with the token, and reports odd answers in one line", async () => {
    const seen: RequestInit[] = [];
    const answer = (res: Response) =>
      (async (_url: unknown, init?: RequestInit) => {
        seen.push(init ?? {});
        return res;
      }) as typeof fetch;
    const env = { SLUICE_ADMIN_TOKEN: "t" };
    const runWith = (fake: typeof fetch) => {
      const out: string[] = [];
      const err: string[] = [];
      const io = {
        out: (t: string) => out.push(t),
        err: (t: string) => err.push(t),
        env,
        fetch: fake,
      };
      return main(["tenants", "list"], io).then((code) => ({ code, err: err.join("\n") }));
    };
    const moved = await runWith(
      answer(
        new Response(null, { status: 302, headers: { location: "https://elsewhere.example/" } }),
      ),
    );
    expect(seen[0]?.redirect).toBe("manual");
    expect(moved.code).toBe(1);
    expect(moved.err).toContain("unexpected 302 answer");
    expect(moved.err).toContain("redirect to https://elsewhere.example/, not followed");
    const odd = await runWith(answer(Response.json({ something: "else" })));
    expect(odd.code).toBe(1);
    expect(odd.err.split("\n")).toHaveLength(1);
    expect(odd.err).toMatch(/^sluice: /);
  });

  it("checks a policy offline with the same messages as npm run check", async () => {
    const ok = await run(["policy", "check"]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^policy OK: version 1, hash [0-9a-f]{12}, \d+ rules$/);
    const bad = await run(["policy", "check", "test/fixtures/policy/invalid/by-enum.json"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("ERR_SLUICE_ENUM at rules[0].limits[0].by");
  });
});
