/** @module policy/load — picks the bundled or SLUICE_POLICY policy, validates it and hashes the result. */
import { sha256Hex } from "../util/encoding.ts";
import type { LoadedPolicy, Policy, PolicyIssue } from "./types.ts";
import { validatePolicy } from "./validate.ts";

/** Where the policy came from; worth logging beside the hash. */
export type PolicySource = "bundled" | "SLUICE_POLICY";

/** Outcome of {@link loadPolicy}. */
export type LoadResult =
  | { ok: true; loaded: LoadedPolicy; warnings: PolicyIssue[]; source: PolicySource }
  | { ok: false; issues: PolicyIssue[]; warnings: PolicyIssue[]; source: PolicySource };

/**
 * Chooses the policy (a non-blank `override`, i.e. the `SLUICE_POLICY` variable, replaces the
 * bundled one), validates and defaults it, and hashes it. The returned policy is deep-frozen: it is
 * shared by every request of the isolate, so nothing may change it. Call once per isolate.
 *
 * @example
 * import bundled from "../sluice.policy.json";
 * const result = await loadPolicy(bundled, env.SLUICE_POLICY);
 * if (!result.ok) throw new Error(formatIssues(result.issues));
 * console.log(result.loaded.policy.version, result.loaded.hash.slice(0, 12));
 */
export async function loadPolicy(
  bundled: unknown,
  override: string | undefined,
): Promise<LoadResult> {
  // A blank variable (`SLUICE_POLICY=""` in .dev.vars) means "not set", not "invalid JSON".
  const source: PolicySource =
    override !== undefined && override.trim() !== "" ? "SLUICE_POLICY" : "bundled";
  let raw = bundled;
  if (source === "SLUICE_POLICY" && override !== undefined) {
    const parsed = parsePolicyJson(override, "SLUICE_POLICY");
    if (!parsed.ok) return { ok: false, issues: [parsed.issue], warnings: [], source };
    raw = parsed.value;
  }
  const result = validatePolicy(raw);
  if (!result.ok) return { ok: false, issues: result.issues, warnings: result.warnings, source };
  const hash = await hashPolicy(result.policy);
  const loaded: LoadedPolicy = { policy: deepFreeze(result.policy), hash };
  return { ok: true, loaded, warnings: result.warnings, source };
}

/**
 * Parses policy JSON text; a syntax error becomes an `ERR_SLUICE_POLICY_JSON` issue at `path`
 * (the variable or file it came from).
 *
 * @example
 * parsePolicyJson("{", "SLUICE_POLICY");
 * // → { ok: false, issue: { code: "ERR_SLUICE_POLICY_JSON", path: "SLUICE_POLICY", message: "invalid JSON: …" } }
 */
export function parsePolicyJson(
  text: string,
  path: string,
): { ok: true; value: unknown } | { ok: false; issue: PolicyIssue } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // SLUICE_POLICY is a secret: V8 quotes the text near the error; keep where, not what.
    const at = /at position \d+(?: \(line \d+ column \d+\))?/.exec(message)?.[0];
    const detail = path === "SLUICE_POLICY" ? `a syntax error${at ? ` ${at}` : ""}` : message;
    return {
      ok: false,
      issue: { code: "ERR_SLUICE_POLICY_JSON", path, message: `invalid JSON: ${detail}` },
    };
  }
}

/**
 * Hex SHA-256 of the policy's canonical JSON, so key order and formatting of the source do not
 * change it, while any change to an effective value (defaults included) does.
 *
 * @example
 * await hashPolicy(policy); // → "3f5a…" (64 hex digits)
 */
export function hashPolicy(policy: Policy): Promise<string> {
  return sha256Hex(canonicalJson(policy));
}

/**
 * JSON with object keys sorted at every level and no whitespace. Array order is kept: it is
 * meaningful (rule order decides which rule matches).
 *
 * @example
 * canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }); // → '{"a":[2,{"c":4,"d":3}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * One line per issue, `CODE at path: message`; used in logs, 500 bodies and by `check-policy`.
 *
 * @example
 * formatIssues([{ code: "ERR_SLUICE_RATE_SYNTAX", path: "rules[0].limits[0].rate", message: 'expected "<count>/<period>" like "10/s", got "10"' }]);
 * // → 'ERR_SLUICE_RATE_SYNTAX at rules[0].limits[0].rate: expected "<count>/<period>" like "10/s", got "10"'
 */
export function formatIssues(issues: readonly PolicyIssue[]): string {
  return issues
    .map((i) => `${i.code} at ${i.path === "" ? "(root)" : i.path}: ${i.message}`)
    .join("\n");
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
