/** @module test/node/cli/gateway — the sluice CLI against a running gateway (`tools/dev.ts`: wrangler dev, Durable Object store). */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const NODE = path.join(ROOT, "node_modules/node/bin/node");
const TOKEN = "cli-test-token-0123456789abcdef-01";
const POLICY = {
  plans: { free: "2/min", pro: "50/min; 1000/day" },
  tenants: {},
  rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "plan", by: "tenant" }] }],
};

let dev: ChildProcess | undefined;
let state: string;
let url: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

beforeAll(async () => {
  state = mkdtempSync(path.join(tmpdir(), "sluice-cli-"));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  dev = spawn(NODE, ["tools/dev.ts", "--port", String(port), "--persist-to", state], {
    cwd: ROOT,
    env: {
      ...process.env,
      SLUICE_ADMIN_TOKEN: TOKEN,
      SLUICE_POLICY: JSON.stringify(POLICY),
      WRANGLER_SEND_METRICS: "false",
    },
    stdio: "ignore",
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/__sluice/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("the dev gateway did not start within 60 s");
}, 70_000);

afterAll(async () => {
  if (dev?.pid !== undefined && dev.exitCode === null) {
    const exited = new Promise((r) => dev?.once("exit", r));
    dev.kill("SIGTERM");
    await exited;
  }
  rmSync(state, { recursive: true, force: true });
}, 20_000);

async function cli(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: { SLUICE_URL: url, SLUICE_ADMIN_TOKEN: TOKEN, USER: "ops-test", ...env },
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("the sluice CLI against a running gateway", () => {
  it("creates a tenant and key, shows usage and the audit trail, revokes the key", async () => {
    const created = await cli(["keys", "create", "--tenant", "acme", "--plan", "free", "--json"]);
    expect(created.code).toBe(0);
    const { key, secret } = JSON.parse(created.out) as {
      key: { id: string; tenant: string };
      secret: string;
    };
    expect(key.tenant).toBe("acme");

    const call = () => fetch(`${url}/api/x`, { headers: { "x-api-key": secret } });
    expect((await call()).status).toBe(200);

    const usage = await cli(["usage", "tenant:acme", "--json"]);
    expect(JSON.parse(usage.out).limits).toMatchObject([
      { rule: "api", limit: "tenant-1m", remaining: 1 },
    ]);
    const human = await cli(["usage", "tenant:acme"]);
    expect(human.out.split("\n")[1]).toMatch(/^api\s+tenant-1m\s+2\/min\s+1 of 2\s+in \d+ s$/);

    const list = await cli(["keys", "list", "--tenant", "acme"]);
    expect(list.out).toContain(key.id);
    expect(list.out).not.toContain(secret);

    expect((await cli(["keys", "revoke", key.id])).out).toBe(`revoked key ${key.id} (tenant acme)`);
    expect((await call()).status).toBe(401);

    const audit = JSON.parse((await cli(["audit", "--json"])).out).entries;
    expect(audit.map((e: { action: string }) => e.action)).toEqual([
      "key.revoke",
      "key.create",
      "tenant.create",
    ]);
    expect(audit[0].actor).toBe("ops-test");
  }, 30_000);

  it("explains a plan clash, a wrong token, a wrong URL and an unknown tenant", async () => {
    await cli(["tenants", "create", "beta", "--plan", "free"]);
    const clash = await cli(["keys", "create", "--tenant", "beta", "--plan", "pro"]);
    expect(clash.code).toBe(1);
    expect(clash.err).toContain("sluice tenants update beta --plan pro");

    const wrongToken = await cli(["tenants", "list"], { SLUICE_ADMIN_TOKEN: "nope" });
    expect(wrongToken).toMatchObject({
      code: 4,
      err: "sluice: the admin token was rejected (check SLUICE_ADMIN_TOKEN)",
    });

    const port = await freePort();
    const nobody = await cli(["tenants", "list", "--url", `http://127.0.0.1:${port}`]);
    expect(nobody).toMatchObject({
      code: 1,
      err: `sluice: cannot reach http://127.0.0.1:${port}: connection refused`,
    });

    const missing = await cli(["tenants", "show", "ghost", "--json"]);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.err)).toEqual({
      error: { kind: "api", message: 'Tenant "ghost" does not exist.', status: 404 },
    });
  });

  it("names the flag when the gateway rejects a value, and exits 2 as for a local mistake", async () => {
    const past = await cli([
      "keys",
      "create",
      "--tenant",
      "beta",
      "--expires",
      "2020-01-01T00:00:00Z",
    ]);
    expect(past).toMatchObject({ code: 2, err: "sluice: --expires: must be in the future" });
    const badId = await cli(["tenants", "create", "Bad_ID", "--plan", "free"]);
    expect(badId).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^sluice: <id>: expected 1–64/),
    });
    const limit = await cli(["usage", "acme"]);
    expect(limit).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^sluice: <subject>: expected/),
    });
  });

  it("runs as `npx sluice` through its bin on the machine's Node", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(
          "node",
          ["bin/sluice.js", ...args],
          { cwd: ROOT, env: { ...process.env, SLUICE_URL: url, SLUICE_ADMIN_TOKEN: TOKEN } },
          (error, stdout) => resolve({ code: error ? Number(error.code) : 0, stdout }),
        );
      });
    const listed = await run(["tenants", "list", "--json"]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).tenants.map((t: { id: string }) => t.id)).toContain("acme");
    expect((await run(["keys", "frobnicate"])).code).toBe(2);
  }, 20_000);
});
