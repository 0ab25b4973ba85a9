/** @module cli/commands/rollout — `sluice policy diff` and `sluice policy replay`: a policy change read before it ships. */
import { readFileSync } from "node:fs";
import { formatIssues, loadPolicy, parsePolicyJson } from "../../policy/load.ts";
import type { Policy } from "../../policy/types.ts";
import type { Command } from "../command.ts";
import { CliError, EXIT, UsageError } from "../errors.ts";
import { table } from "../format.ts";
import { decisionsIn, diffPolicies, replayDecisions } from "../rollout.ts";

export const policyDiff: Command = {
  words: ["policy", "diff"],
  params: [
    { name: "<old>", help: "the policy in force" },
    { name: "<new>", help: "the candidate policy" },
  ],
  summary: "which limits change, and which counters carry over or start afresh",
  options: {},
  examples: [
    "sluice policy diff live.policy.json next.policy.json",
    "sluice policy diff a.json b.json --json",
  ],
  offline: true,
  async run(ctx) {
    const before = await readPolicy(ctx.arg(0), "<old>");
    const after = await readPolicy(ctx.arg(1), "<new>");
    const rows = diffPolicies(before, after);
    return ctx.print({ rows }, () => {
      const shown = rows.filter((r) => r.change !== "unchanged");
      const kept = rows.length - shown.length;
      const body = table(
        ["RULE", "LIMIT", "CHANGE", "COUNTERS", "DETAIL"],
        shown.map((r) => [r.rule, r.limit || "(rule)", r.change, r.counters, r.detail]),
      );
      return `${shown.length ? body : "no limit changes"}\n${kept} limit(s) unchanged; their counters carry over`;
    });
  },
};

export const policyReplay: Command = {
  words: ["policy", "replay"],
  params: [
    {
      name: "<decision-log>",
      help: "sluice.decision lines (the gateway's log, or wrangler tail --format json)",
    },
    { name: "<policy>", help: "the candidate policy" },
  ],
  summary: "replay logged decisions against a candidate policy: who would now be denied",
  options: {
    tenants: {
      type: "string",
      value: "<file>",
      help: 'tenants\' plans, for plan limits: {"acme": "free"} or the output of "sluice tenants list --json"',
    },
  },
  examples: [
    "sluice policy replay decisions.log next.policy.json",
    "sluice policy replay tail.json next.policy.json --tenants tenants.json --json",
  ],
  offline: true,
  async run(ctx) {
    const events = decisionsIn(readText(ctx.arg(0), "<decision-log>"));
    const candidate = await readPolicy(ctx.arg(1), "<policy>");
    const file = ctx.string("tenants");
    const plans = file ? tenantPlans(readText(file, "--tenants")) : {};
    const report = await replayDecisions(events, candidate, plans);
    ctx.print(report, () => {
      const head = `${report.replayed} decision(s) replayed, ${report.skipped} skipped: ${report.nowDenied} admitted then would now be denied, ${report.nowAdmitted} denied then would now be admitted`;
      if (report.subjects.length === 0) return head;
      const rows = report.subjects.map((s) => [s.subject, s.rule, s.denied, s.firstAt]);
      return `${head}\n${table(["SUBJECT", "RULE", "NOW DENIED", "FIRST"], rows)}`;
    });
    return EXIT.ok;
  },
};

function readText(file: string, flag: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`cannot read ${file}: ${reason}`, { flag });
  }
}

async function readPolicy(file: string, flag: string): Promise<Policy> {
  const parsed = parsePolicyJson(readText(file, flag), file);
  if (!parsed.ok) throw new CliError("api", formatIssues([parsed.issue]));
  const result = await loadPolicy(parsed.value, undefined);
  if (!result.ok)
    throw new CliError("api", `${file} is not a valid policy:\n${formatIssues(result.issues)}`);
  return result.loaded.policy;
}

/** `{"acme": "free"}`, or `{"tenants": [{"id": "acme", "plan": "free"}]}` as the admin API lists them. */
function tenantPlans(text: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError("--tenants: not JSON", { flag: "--tenants" });
  }
  const list = (value as { tenants?: Array<{ id: string; plan: string }> }).tenants;
  if (Array.isArray(list)) return Object.fromEntries(list.map((t) => [t.id, t.plan]));
  return value as Record<string, string>;
}
