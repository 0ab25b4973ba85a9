/** @module test/node/scripts/check — `npm run check`: the policy, then the ORIGIN_URL that `wrangler deploy` would send. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { deployFinding } from "../../../scripts/check.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "sluice-check-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function toml(name: string, body: string): string {
  const file = join(scratch, `${name}.toml`);
  writeFileSync(
    file,
    `name = "x"\nmain = "src/index.ts"\ncompatibility_date = "2026-10-01"\n${body}`,
  );
  return file;
}

describe("deployFinding", () => {
  it.each<[string, string, "ok" | "note" | "error", RegExp]>([
    [
      "empty",
      '[vars]\nORIGIN_URL = ""\n',
      "error",
      /ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not set; set \[vars\] ORIGIN_URL/,
    ],
    [
      "relative",
      '[vars]\nORIGIN_URL = "api.internal"\n',
      "error",
      /is not an absolute URL: "api.internal"/,
    ],
    [
      "ftp",
      '[vars]\nORIGIN_URL = "ftp://api.internal"\n',
      "error",
      /must be http or https, got ftp:/,
    ],
    [
      "query",
      '[vars]\nORIGIN_URL = "https://api.internal/?a=1"\n',
      "error",
      /must not carry a query/,
    ],
    ["absent", "", "note", /ORIGIN_URL is not in \[vars\]; deploy it as a secret/],
    [
      "good",
      '[vars]\nORIGIN_URL = "https://api.internal/v1"\n',
      "ok",
      /^deploy config OK: ORIGIN_URL https:\/\/api.internal\/v1$/,
    ],
  ])("%s ORIGIN_URL → %s", async (name, body, level, message) => {
    const finding = await deployFinding(toml(name, body));
    expect(finding.level).toBe(level);
    expect(finding.message).toMatch(message);
  });

  it("reads the named environment's vars", async () => {
    const file = toml(
      "envs",
      '[vars]\nORIGIN_URL = ""\n[env.prod.vars]\nORIGIN_URL = "https://api.internal"\n',
    );
    expect((await deployFinding(file)).level).toBe("error");
    expect((await deployFinding(file, "prod")).level).toBe("ok");
  });
});

describe("npm run check on this repository (ORIGIN_URL is empty in wrangler.toml)", () => {
  const run = (...args: string[]) =>
    spawnSync(join(root, "node_modules/.bin/node"), [join(root, "scripts/check.ts"), ...args], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });

  it("passes, saying the origin must be set before deploying", () => {
    const out = run();
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/^policy OK: version 1, hash [0-9a-f]{12}, 3 rules\n$/);
    expect(out.stderr).toBe(
      'warning: wrangler.toml: ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not set; set [vars] ORIGIN_URL to your API\'s base URL, like "https://api.internal.example/v1"\nwarning: npm run deploy refuses to deploy until it is set\n',
    );
  });

  it("fails before deploy (npm run deploy runs it with --deploy)", () => {
    const out = run("--deploy");
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/^wrangler.toml: ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not set/);
  });

  it("still checks the policy first, and stops there when it is invalid", () => {
    const out = run(join(root, "test/fixtures/policy/invalid/rules-empty.json"), "--deploy");
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/^ERR_SLUICE_EMPTY at rules/);
    expect(out.stderr).not.toMatch(/ORIGIN_URL/);
  });
});
