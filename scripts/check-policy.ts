/** @module scripts/check-policy — validates a policy file offline: `node scripts/check-policy.ts [file]`. */
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { formatIssues, loadPolicy, parsePolicyJson } from "../src/policy/load.ts";

const USAGE =
  "usage: node scripts/check-policy.ts [policy.json]  (default: src/sluice.policy.json)";
const BUNDLED = fileURLToPath(new URL("../src/sluice.policy.json", import.meta.url));

/**
 * Checks one policy file and returns the exit code: 0 valid, 1 invalid, 2 unreadable or bad usage.
 * Warnings go to stderr and do not fail the check.
 *
 * @example
 * // $ node scripts/check-policy.ts
 * // policy OK: version 1, hash 3f5a0c9e21d4, 3 rules
 */
export async function checkPolicy(
  args: readonly string[],
  io: { out: (line: string) => void; err: (line: string) => void } = {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  },
  usage = USAGE,
): Promise<number> {
  if (args.length > 1 || args[0]?.startsWith("-")) {
    const help = args[0] === "-h" || args[0] === "--help";
    (help ? io.out : io.err)(usage);
    return help ? 0 : 2;
  }
  const file = args[0] ?? BUNDLED;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    io.err(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  const parsed = parsePolicyJson(text, file);
  if (!parsed.ok) {
    io.err(formatIssues([parsed.issue]));
    return 1;
  }
  // The file is checked as it would be deployed, so SLUICE_POLICY is deliberately not consulted.
  const result = await loadPolicy(parsed.value, undefined);
  if (result.warnings.length > 0) io.err(prefixLines("warning: ", formatIssues(result.warnings)));
  if (!result.ok) {
    io.err(formatIssues(result.issues));
    return 1;
  }
  const { policy, hash } = result.loaded;
  const rules = `${policy.rules.length} rule${policy.rules.length === 1 ? "" : "s"}`;
  io.out(`policy OK: version ${policy.version}, hash ${hash.slice(0, 12)}, ${rules}`);
  return 0;
}

function prefixLines(prefix: string, text: string): string {
  return text
    .split("\n")
    .map((line) => prefix + line)
    .join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await checkPolicy(process.argv.slice(2));
}
