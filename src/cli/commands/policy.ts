/** @module cli/commands/policy — `sluice policy check [file]`: validates a policy offline, as `npm run check` does. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatIssues, loadPolicy, parsePolicyJson } from "../../policy/load.ts";
import type { PolicyIssue } from "../../policy/types.ts";
import type { Command, Io } from "../command.ts";
import { EXIT, UsageError } from "../errors.ts";

const BUNDLED = fileURLToPath(new URL("../../sluice.policy.json", import.meta.url));

/** `policy check --json` prints this on stdout, valid or not. */
export interface PolicyReport {
  ok: boolean;
  file: string;
  /** Only when valid: what the gateway would log beside the hash. */
  version?: string;
  hash?: string;
  rules?: number;
  issues: PolicyIssue[];
  warnings: PolicyIssue[];
}

export const policyCheck: Command = {
  words: ["policy", "check"],
  params: [
    { name: "[file]", help: "the policy file (default: the bundled src/sluice.policy.json)" },
  ],
  summary: "validate a policy file offline; exit 1 with every issue if it is invalid",
  options: {},
  examples: ["sluice policy check", "sluice policy check my.policy.json --json"],
  offline: true,
  async run(ctx) {
    const file = ctx.args[0] ?? BUNDLED;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const unreadable = new UsageError(`cannot read ${file}: ${reason}`, { flag: "[file]" });
      if (ctx.json) throw unreadable;
      // `npm run check` prints this line as it always has, without the "sluice:" prefix.
      ctx.io.err(unreadable.message);
      return EXIT.usage;
    }
    const report = await checkPolicy(text, file);
    if (ctx.json) {
      ctx.io.out(JSON.stringify(report, null, 2));
    } else {
      printReport(ctx.io, report);
    }
    return report.ok ? EXIT.ok : EXIT.failed;
  },
};

/**
 * Validates policy JSON text as it would be deployed: SLUICE_POLICY is
 * deliberately not consulted. Warnings never make a policy invalid.
 *
 * @example
 * const report = await checkPolicy(readFileSync("sluice.policy.json", "utf8"), "sluice.policy.json");
 * // → { ok: true, file: "sluice.policy.json", version: "1", hash: "c3a7…", rules: 3, issues: [], warnings: [] }
 */
export async function checkPolicy(text: string, file: string): Promise<PolicyReport> {
  const parsed = parsePolicyJson(text, file);
  if (!parsed.ok) return { ok: false, file, issues: [parsed.issue], warnings: [] };
  const result = await loadPolicy(parsed.value, undefined);
  if (!result.ok) return { ok: false, file, issues: result.issues, warnings: result.warnings };
  const { policy, hash } = result.loaded;
  const base = { ok: true, file, version: policy.version, hash, rules: policy.rules.length };
  return { ...base, issues: [], warnings: result.warnings };
}

function printReport(io: Io, report: PolicyReport): void {
  if (report.warnings.length > 0) {
    io.err(
      formatIssues(report.warnings)
        .split("\n")
        .map((line) => `warning: ${line}`)
        .join("\n"),
    );
  }
  if (!report.ok) {
    io.err(formatIssues(report.issues));
    return;
  }
  const rules = `${report.rules} rule${report.rules === 1 ? "" : "s"}`;
  io.out(`policy OK: version ${report.version}, hash ${report.hash?.slice(0, 12)}, ${rules}`);
}
