/** @module test/node/cli/main — help, --version, exit codes, --json and flag names, against a fake admin API. */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { COMMANDS } from "../../../src/cli/commands/index.ts";
import type { Tenant } from "../../../src/tenants/types.ts";
import { type Answer, type FakeAdmin, fakeAdmin, problems, sluice } from "./helpers.ts";

const ADMIN = "/__sluice/admin";
const TOKEN = "t0ken";
const ACME: Tenant = {
  id: "acme",
  plan: "free",
  disabled: false,
  createdAt: "2026-11-01T00:00:00.000Z",
  overrides: [],
};

let admin: FakeAdmin;
let answers: Record<string, Answer>;
const env = () => ({ SLUICE_URL: admin.url, SLUICE_ADMIN_TOKEN: TOKEN, USER: "ops" });

beforeAll(async () => {
  admin = await fakeAdmin((method, path) => answers[`${method} ${path.replace(ADMIN, "")}`]);
});
afterAll(() => admin.close());
beforeEach(() => {
  admin.seen.length = 0;
  answers = {};
});

describe("help and --version", () => {
  it("prints the overview for help, --help, -h and no arguments, with the exit codes", async () => {
    const overview = await sluice(["help"]);
    expect(overview.code).toBe(0);
    expect(overview.out).toMatch(/^sluice — /);
    for (const line of ["0  done", "1  refused or failed", "2  usage error", "4  authentication"]) {
      expect(overview.out).toContain(line);
    }
    for (const c of COMMANDS) expect(overview.out).toContain(c.words.join(" "));
    for (const argv of [["--help"], ["-h"], []])
      expect((await sluice(argv)).out).toBe(overview.out);
  });

  it("gives every command help with a usage line, its options and an example", async () => {
    for (const c of COMMANDS) {
      const name = c.words.join(" ");
      const help = await sluice([...c.words, "--help"]);
      expect(help.code).toBe(0);
      expect(help.out.split("\n")[0]).toMatch(new RegExp(`^usage: sluice ${name}\\b`));
      for (const option of Object.keys(c.options)) expect(help.out).toContain(`--${option}`);
      expect(help.out).toMatch(new RegExp(`\\nexamples:\\n  sluice ${name}`));
      expect((await sluice(["help", ...c.words])).out).toBe(help.out);
    }
  });

  it("gives each option name one type across commands, so the command is found before its options", () => {
    const types = new Map<string, string>();
    for (const c of COMMANDS) {
      for (const [name, spec] of Object.entries(c.options)) {
        expect(types.get(name) ?? spec.type, `--${name}`).toBe(spec.type);
        types.set(name, spec.type);
      }
    }
  });

  it("shows required options bare and optional ones in brackets", async () => {
    const help = await sluice(["keys", "create", "-h"]);
    expect(help.out.split("\n")[0]).toBe(
      "usage: sluice keys create --tenant <id> [--plan <plan>] [--name <text>] [--expires <time>]",
    );
  });

  it("lists a group's commands for `sluice keys --help`, and asks for one without --help", async () => {
    expect((await sluice(["keys", "--help"])).out).toContain("keys revoke");
    expect(await sluice(["keys"])).toMatchObject({
      code: 2,
      err: expect.stringContaining('"keys" needs a command: create, list, revoke'),
    });
  });

  it("prints the package.json version for --version and -v", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8"));
    expect(await sluice(["--version"])).toEqual({ code: 0, out: version, err: "" });
    expect((await sluice(["-v"])).out).toBe(version);
    expect(JSON.parse((await sluice(["--version", "--json"])).out)).toEqual({ version });
  });
});

describe("exit codes: 2 for usage, whoever notices", () => {
  it.each([
    [["keyz", "list"], 'sluice: unknown command "keyz list"; did you mean "keys list"?'],
    [["keys", "list", "--tenat", "acme"], "sluice: unknown option --tenat; did you mean --tenant?"],
    [["keys", "create"], "sluice: --tenant is required"],
    [["keys", "revoke"], "sluice: missing <key-id>: the key's id"],
    [["tenants", "show", "a", "b"], 'sluice: unexpected argument "b"'],
    [
      ["keys", "create", "--tenant", "acme", "--expires", "30x"],
      "sluice: --expires: expected a time",
    ],
    [["audit", "--limit", "abc"], "sluice: --limit: expected a whole number"],
    [["--bogus"], "sluice: unknown option --bogus"],
  ])("%j is caught by the CLI: %s", async (argv, message) => {
    const r = await sluice(argv, env());
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(admin.seen).toEqual([]);
  });

  it("puts the usage line before a malformed command line, and not before a bad value", async () => {
    const shape = await sluice(["keys", "revoke"], env());
    expect(shape.err.split("\n")).toEqual([
      "usage: sluice keys revoke <key-id>",
      "sluice: missing <key-id>: the key's id, as `keys list` shows it (16 hex digits)",
      'run "sluice keys revoke --help" for its options and examples',
    ]);
    const value = await sluice(["audit", "--limit", "0"], env());
    expect(value.err).toBe('sluice: --limit: expected a whole number from 1 to 10000, got "0"');
  });

  it.each([
    [
      ["keys", "create", "--tenant", "acme", "--expires", "2020-01-01T00:00:00Z"],
      "POST /keys",
      problems.badRequest("expiresAt", "must be in the future"),
      "--expires: must be in the future",
    ],
    [
      ["tenants", "create", "Bad_ID", "--plan", "free"],
      "POST /tenants",
      problems.badRequest("id", 'expected 1–64 of lower-case letters, digits, "_" or "-"'),
      '<id>: expected 1–64 of lower-case letters, digits, "_" or "-"',
    ],
    [
      ["tenants", "create", "newco", "--plan", "gold"],
      "POST /tenants",
      problems.badRequest("plan", 'unknown plan "gold"; the policy offers free, pro'),
      '--plan: unknown plan "gold"; the policy offers free, pro',
    ],
    [
      ["usage", "acme"],
      "GET /usage?subject=acme",
      problems.badRequest("subject", 'expected "tenant:<id>", got "acme"'),
      '<subject>: expected "tenant:<id>", got "acme"',
    ],
    [
      ["tenants", "update", "acme", "--enable"],
      "PATCH /tenants/acme",
      problems.badRequest("disabled", "expected true or false"),
      "--disable/--enable: expected true or false",
    ],
  ])(
    "%j is caught by the gateway (400) and named by its flag",
    async (argv, route, answer, message) => {
      answers = { "GET /tenants/acme": { json: { tenant: ACME } }, [route]: answer };
      const r = await sluice(argv, env());
      expect(r).toEqual({ code: 2, out: "", err: `sluice: ${message}` });
      const json = await sluice([...argv, "--json"], env());
      const flag = message.slice(0, message.indexOf(":"));
      expect(JSON.parse(json.err)).toEqual({
        error: { kind: "usage", message, status: 400, flag },
      });
    },
  );
});

describe("exit codes: 4 for authentication", () => {
  it("exits 4 without a token, sending nothing", async () => {
    const r = await sluice(["tenants", "list"], { SLUICE_URL: admin.url });
    expect(r).toEqual({
      code: 4,
      out: "",
      err: "sluice: no admin token: set SLUICE_ADMIN_TOKEN (or pass --token)",
    });
  });

  it.each([
    ["401", problems.unauthorized()],
    [
      "403",
      {
        status: 403,
        problem: { type: "https://sluice.dev/problems/forbidden", title: "Forbidden" },
      },
    ],
  ])("exits 4 on a %s from the admin API", async (_, answer) => {
    answers = { "GET /tenants": answer };
    const r = await sluice(["tenants", "list"], env());
    expect(r).toMatchObject({
      code: 4,
      err: "sluice: the admin token was rejected (check SLUICE_ADMIN_TOKEN)",
    });
    const json = await sluice(["tenants", "list", "--json"], env());
    expect(JSON.parse(json.err).error).toMatchObject({
      kind: "auth",
      status: answer.status ?? 401,
    });
  });

  it("exits 4 when too many wrong tokens locked the address out", async () => {
    answers = {
      "GET /tenants": {
        status: 429,
        problem: {
          type: "https://sluice.dev/problems/too-many-key-attempts",
          title: "Too Many Requests",
          detail: "Too many requests with invalid admin tokens from this address; retry in 42 s.",
        },
      },
    };
    expect(await sluice(["tenants", "list"], env())).toMatchObject({
      code: 4,
      err: expect.stringContaining("retry in 42 s. (check SLUICE_ADMIN_TOKEN)"),
    });
  });
});

describe("exit codes: 1 for refused or failed", () => {
  it.each([
    ["404", problems.notFound('Tenant "ghost"'), 'Tenant "ghost" does not exist.'],
    ["409", problems.conflict('Tenant "ghost" exists.'), 'Tenant "ghost" exists.'],
  ])("exits 1 on a %s", async (status, answer, message) => {
    answers = { "GET /tenants/ghost": answer };
    expect(await sluice(["tenants", "show", "ghost"], env())).toEqual({
      code: 1,
      out: "",
      err: `sluice: ${message}`,
    });
    const json = await sluice(["tenants", "show", "ghost", "--json"], env());
    expect(JSON.parse(json.err)).toEqual({
      error: { kind: "api", message, status: Number(status) },
    });
  });

  it("exits 1 when the gateway has no admin API", async () => {
    answers = {};
    expect(await sluice(["tenants", "list"], env())).toMatchObject({
      code: 1,
      err: expect.stringContaining("the admin API is not enabled at http://127.0.0.1:"),
    });
  });

  it("exits 1 when nothing answers", async () => {
    const gone = await fakeAdmin(() => undefined);
    await gone.close();
    const r = await sluice(["tenants", "list", "--json"], { ...env(), SLUICE_URL: gone.url });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.err)).toEqual({
      error: { kind: "unreachable", message: `cannot reach ${gone.url}: connection refused` },
    });
  });

  it("exits 1 when the tenant's state refuses a new key, before creating anything", async () => {
    answers = { "GET /tenants/acme": { json: { tenant: ACME } } };
    const clash = await sluice(["keys", "create", "--tenant", "acme", "--plan", "pro"], env());
    expect(clash).toEqual({
      code: 1,
      out: "",
      err: 'sluice: tenant "acme" is on plan "free"; change it with: sluice tenants update acme --plan pro',
    });
    answers = { "GET /tenants/newco": problems.notFound('Tenant "newco"') };
    const missing = await sluice(["keys", "create", "--tenant", "newco"], env());
    expect(missing).toMatchObject({
      code: 1,
      err: expect.stringContaining("pass --plan to create it"),
    });
    expect(admin.seen.map((s) => s.method)).toEqual(["GET", "GET"]);
  });

  it("exits 1 for an invalid policy, with every issue", async () => {
    const bad = await sluice(["policy", "check", "test/fixtures/policy/invalid/by-enum.json"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("ERR_SLUICE_ENUM at rules[0].limits[0].by");
  });

  it("reports an answer it does not understand in one line", async () => {
    answers = { "GET /tenants": { json: { something: "else" } } };
    const r = await sluice(["tenants", "list"], env());
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^sluice: unexpected 200 answer from .*; is this a Sluice gateway\?$/);
  });
});

describe("asking before revoking or resetting, at a terminal only", () => {
  const REVOKED = {
    key: { id: "89ae7cba3acb7578", tenant: "acme", prefix: "sk_live_dGr-", disabled: true },
  };

  it("asks, and sends nothing when the answer is no", async () => {
    answers = { "POST /keys/89ae7cba3acb7578/revoke": { json: REVOKED } };
    const asked: string[] = [];
    const no = await sluice(["keys", "revoke", "89ae7cba3acb7578"], env(), {
      confirm: async (q) => {
        asked.push(q);
        return false;
      },
    });
    expect(no).toEqual({ code: 1, out: "", err: "sluice: cancelled: nothing was changed" });
    expect(asked).toEqual([
      "Revoke key 89ae7cba3acb7578? It stops working everywhere within 30 s.",
    ]);
    expect(admin.seen).toEqual([]);

    answers = { "POST /reset": { json: { subject: "ip:203.0.113.7", cleared: 2 } } };
    const yes = await sluice(["reset", "ip:203.0.113.7"], env(), { confirm: async () => true });
    expect(yes.code).toBe(0);
    expect(admin.seen.map((r) => `${r.method} ${r.path}`)).toEqual([`POST ${ADMIN}/reset`]);
  });

  it("does not ask with --yes or --json, nor in a script (no terminal)", async () => {
    answers = { "POST /keys/89ae7cba3acb7578/revoke": { json: REVOKED } };
    const never = async (): Promise<boolean> => {
      throw new Error("asked");
    };
    for (const extra of [["--yes"], ["-y"], ["--json"]]) {
      const run = await sluice(["keys", "revoke", "89ae7cba3acb7578", ...extra], env(), {
        confirm: never,
      });
      expect(run.code).toBe(0);
    }
    expect((await sluice(["keys", "revoke", "89ae7cba3acb7578"], env())).code).toBe(0);
    expect(admin.seen).toHaveLength(4);
  });
});

describe("--json", () => {
  it("prints the admin API's answer as it came", async () => {
    const body = { tenants: [ACME] };
    answers = { "GET /tenants": { json: body } };
    const r = await sluice(["tenants", "list", "--json"], env());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(body);
    const human = await sluice(["tenants", "list"], env());
    expect(human.out.split("\n")[1]).toMatch(/^acme\s+free\s+active\s+-\s+-\s+2026-11-01/);
  });

  it("creates a key with the tenant, then prints the key and secret", async () => {
    const key = {
      id: "89ae7cba3acb7578",
      tenant: "newco",
      prefix: "sk_live_Ab12",
      createdAt: "x",
      disabled: false,
    };
    answers = {
      "GET /tenants/newco": problems.notFound('Tenant "newco"'),
      "POST /tenants": { status: 201, json: { tenant: { ...ACME, id: "newco" } } },
      "POST /keys": { status: 201, json: { key, secret: "sk_live_secret" } },
    };
    const r = await sluice(
      ["keys", "create", "--tenant", "newco", "--plan", "free", "--json"],
      env(),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ key, secret: "sk_live_secret" });
    expect(admin.seen.map((s) => [s.method, s.body])).toEqual([
      ["GET", undefined],
      ["POST", { id: "newco", plan: "free" }],
      ["POST", { tenant: "newco" }],
    ]);
    expect(admin.seen[2]?.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      "sluice-actor": "ops",
    });
  });

  it("reports usage errors as JSON on stderr", async () => {
    const r = await sluice(["tenants", "create", "acme", "--json"], env());
    expect(r).toMatchObject({ code: 2, out: "" });
    expect(JSON.parse(r.err)).toEqual({
      error: { kind: "usage", message: "--plan is required", flag: "--plan" },
    });
  });

  it("gives policy check a report object, valid or not", async () => {
    const ok = await sluice(["policy", "check", "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({
      ok: true,
      file: expect.stringMatching(/src\/sluice\.policy\.json$/),
      version: "1",
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      rules: expect.any(Number),
      issues: [],
      warnings: [],
    });
    const file = "test/fixtures/policy/invalid/by-enum.json";
    const bad = await sluice(["policy", "check", file, "--json"]);
    expect(bad).toMatchObject({ code: 1, err: "" });
    expect(JSON.parse(bad.out)).toEqual({
      ok: false,
      file,
      issues: [expect.objectContaining({ code: "ERR_SLUICE_ENUM", path: "rules[0].limits[0].by" })],
      warnings: [],
    });
    const missing = await sluice(["policy", "check", "nope.json", "--json"]);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.err).error).toMatchObject({ kind: "usage", flag: "[file]" });
  });
});
