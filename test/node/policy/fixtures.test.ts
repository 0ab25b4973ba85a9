/** @module test/node/policy/fixtures — each invalid policy fixture fails with exactly its expected messages. */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatIssues, parsePolicyJson } from "../../../src/policy/load.ts";
import { ISSUE_CODES, validatePolicy } from "../../../src/policy/validate.ts";

const dir = new URL("../../fixtures/policy/invalid/", import.meta.url);
const cases = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .map((f) => f.slice(0, -".json".length))
  .sort();
const read = (file: string) => readFileSync(new URL(file, dir), "utf8");

/** The exact lines `check-policy` and the 500 body would show for a fixture. */
function formatted(name: string): string {
  const parsed = parsePolicyJson(read(`${name}.json`), `${name}.json`);
  if (!parsed.ok) return formatIssues([parsed.issue]);
  const result = validatePolicy(parsed.value);
  return result.ok ? "(valid)" : formatIssues(result.issues);
}

describe("invalid policy fixtures", () => {
  it("exist, each with its expected messages", () => {
    expect(cases.length).toBeGreaterThan(50);
    const expected = readdirSync(dir).filter((f) => f.endsWith(".expected.txt"));
    expect(expected.map((f) => f.slice(0, -".expected.txt".length)).sort()).toEqual(cases);
  });

  it.each(cases)("%s", (name) => {
    expect(formatted(name)).toBe(read(`${name}.expected.txt`).trimEnd());
  });

  it("cover every validation error code", () => {
    const seen = new Set(cases.flatMap((name) => formatted(name).match(/^ERR_SLUICE_\w+/gm) ?? []));
    // Only loadPolicy/check-policy produce the JSON syntax error; load.test.ts covers it.
    const codes = Object.keys(ISSUE_CODES).filter((c) => c !== "ERR_SLUICE_POLICY_JSON");
    expect(codes.filter((c) => !seen.has(c))).toEqual([]);
  });
});
