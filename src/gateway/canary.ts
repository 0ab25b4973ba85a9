/** @module gateway/canary — `SLUICE_POLICY_CANARY`: a candidate policy for a stable, hash-selected share of subjects, beside the policy in force. */
import type { MiddlewareHandler } from "hono";
import { identify } from "../identity/index.ts";
import { loadPolicy } from "../policy/load.ts";
import type { IdentityConfig, LoadedPolicy } from "../policy/types.ts";
import { sha256Hex } from "../util/encoding.ts";
import type { GatewayEnv, SluiceEnv } from "./env.ts";

/** A canary as configured: the candidate policy and the share of subjects it decides. */
export interface CanaryConfig {
  loaded: LoadedPolicy;
  /** 0–100, in hundredths of a percent's precision. */
  percent: number;
}

/**
 * Reads the canary from env: none when `SLUICE_POLICY_CANARY` is unset or
 * blank; else the validated policy and `SLUICE_POLICY_CANARY_PERCENT`. Like
 * `SLUICE_POLICY`, an invalid canary never serves traffic: its errors
 * refuse the whole configuration.
 *
 * @example
 * const canary = await readCanary(env); // undefined | { loaded, percent } | { issues }
 */
export async function readCanary(
  env: SluiceEnv,
): Promise<CanaryConfig | { issues: CanaryIssue[] } | undefined> {
  const text = env.SLUICE_POLICY_CANARY;
  if (text === undefined || text.trim() === "") return undefined;
  const result = await loadPolicy(undefined, text);
  // Fields are named as in SLUICE_POLICY's own errors, under the canary's variable.
  const issues: CanaryIssue[] = result.ok
    ? []
    : result.issues.map((i) => ({
        code: i.code,
        field: `SLUICE_POLICY_CANARY${i.path && i.path !== "SLUICE_POLICY" ? `.${i.path}` : ""}`,
        message: i.message,
      }));
  const raw = env.SLUICE_POLICY_CANARY_PERCENT?.trim() ?? "";
  const percent = Number(raw);
  if (raw === "" || !Number.isFinite(percent) || percent < 0 || percent > 100) {
    issues.push({
      code: "ERR_SLUICE_CANARY_PERCENT",
      field: "SLUICE_POLICY_CANARY_PERCENT",
      message: "must be a number from 0 to 100 when SLUICE_POLICY_CANARY is set",
    });
  }
  if (issues.length > 0 || !result.ok) return { issues };
  return { loaded: result.loaded, percent };
}

/** One problem with the canary's variables, shaped as the runtime's configuration issues. */
export interface CanaryIssue {
  code: string;
  field: string;
  message: string;
}

/**
 * Sends each request to the stable or the canary middleware by its subject
 * (the API key's hash when one is sent, else the client address key): the
 * same subject always lands on the same side while the percentage holds, and
 * raising it only moves subjects from stable to canary.
 *
 * @example
 * const limit = canarySplit(stable, canary, 10, policy.identity);
 */
export function canarySplit(
  stable: MiddlewareHandler<GatewayEnv>,
  canary: MiddlewareHandler<GatewayEnv>,
  percent: number,
  identity: IdentityConfig,
): MiddlewareHandler<GatewayEnv> {
  return async function canaryLimit(c, next) {
    const who = await identify(c.req.raw, identity);
    const onCanary = (await bucketOf(who.apiKeyHash ?? `ip:${who.ipKey}`)) < percent * 100;
    const obs = c.get("observation");
    if (obs) obs.canary = onCanary;
    return (onCanary ? canary : stable)(c, next);
  };
}

/**
 * A subject's bucket, 0–9999, from its SHA-256: stable across isolates and
 * deployments, and independent of the policies.
 *
 * @example
 * await bucketOf("ip:203.0.113.7"); // e.g. 4821: on the canary when percent > 48.21
 */
export async function bucketOf(subject: string): Promise<number> {
  const hex = await sha256Hex(`sluice-canary:${subject}`);
  return Number.parseInt(hex.slice(0, 8), 16) % 10_000;
}
