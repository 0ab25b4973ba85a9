/** @module test/node/policy/check-policy — `sluice policy check` (what `npm run check` runs): output and exit codes, as a real process. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadPolicy } from "../../../src/policy/load.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const node = join(root, "node_modules/.bin/node");
const bin = join(root, "bin/sluice.js");
const invalid = (name: string) => join(root, "test/fixtures/policy/invalid", name);
const scratch = mkdtempSync(join(tmpdir(), "sluice-check-policy-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(...args: string[]) {
  // Another working directory proves the default file is found relative to the CLI.
  const out = spawnSync(node, [bin, "policy", "check", ...args], {
    cwd: tmpdir(),
    encoding: "utf8",
  });
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}

function scratchFile(name: string, text: string): string {
  const file = join(scratch, name);
  writeFileSync(file, text);
  return file;
}

describe("sluice policy check", () => {
  it("checks the bundled policy by default and prints version, hash prefix and rule count", async () => {
    const bundled = JSON.parse(readFileSync(join(root, "src/sluice.policy.json"), "utf8"));
    const loaded = await loadPolicy(bundled, undefined);
    if (!loaded.ok) throw new Error("the bundled policy must be valid");
    const { policy, hash } = loaded.loaded;
    const result = run();
    expect(result).toEqual({
      code: 0,
      stdout: `policy OK: version ${policy.version}, hash ${hash.slice(0, 12)}, ${policy.rules.length} rules\n`,
      stderr: "",
    });
  });

  it("checks a given file", () => {
    const file = scratchFile(
      "one.json",
      JSON.stringify({
        version: "7",
        rules: [{ name: "a", match: { path: "*" }, limits: [{ rate: "1/s" }] }],
      }),
    );
    const result = run(file);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^policy OK: version 7, hash [0-9a-f]{12}, 1 rule\n$/);
  });

  it("prints warnings to stderr without failing", () => {
    const file = scratchFile(
      "warn.json",
      JSON.stringify({
        identity: { ip: { source: "x-forwarded-for" } },
        rules: [{ name: "a", match: { path: "*" }, limits: [{ rate: "1/s" }] }],
      }),
    );
    const result = run(file);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^warning: WARN_SLUICE_XFF_TRUSTED at identity\.ip\.source: /);
    expect(result.stdout).toMatch(/^policy OK: version 0, /);
  });

  it("exits 1 with the formatted issues on stderr for an invalid policy", () => {
    const result = run(invalid("many-issues.json"));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(readFileSync(invalid("many-issues.expected.txt"), "utf8"));
  });

  it("exits 1 naming the file for JSON that does not parse", () => {
    const file = scratchFile("broken.json", '{"rules": [');
    const result = run(file);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `^ERR_SLUICE_POLICY_JSON at ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: invalid JSON: `,
      ),
    );
  });

  it("exits 2 for a file it cannot read", () => {
    const result = run(join(scratch, "missing.json"));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^cannot read .*missing\.json: ENOENT/);
  });

  it("exits 2 with usage for bad arguments, 0 for --help", () => {
    const usage = /^usage: sluice policy check \[file\]/;
    const two = run("a.json", "b.json");
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(usage);
    const flag = run("--strict");
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(usage);
    const help = run("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(usage);
  });
});
