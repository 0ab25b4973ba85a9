/** @module observe — structured JSON lines: one per decision, one per admin change, config problems; never a raw API key. */
import type { AuditEntry } from "../tenants/types.ts";

export type Outcome =
  | "allowed"
  | "denied"
  | "shadow-denied"
  | "degraded-allowed"
  | "degraded-local"
  | "concurrency-denied"
  | "abandoned"
  | "paused"
  | "store-denied"
  | "unauthorized"
  | "key-locked"
  | "forbidden"
  | "refunded"
  | "refund-failed"
  | "deny-listed"
  | "exempt"
  | "banned";

/** Everything an operator needs to answer "why was this request limited?". */
export interface DecisionEvent {
  msg: "sluice.decision";
  rule: string;
  outcome: Outcome;
  mode: "enforce" | "shadow";
  method: string;
  /** Path only: queries may carry secrets. */
  path: string;
  /** IPv4 address or IPv6 subnet the limits were keyed on. */
  ipKey: string;
  /** First 16 hex digits of the key's SHA-256: the admin API's key id, never the key. */
  keyId?: string;
  /** The key was resolved from this isolate's last answer because the store failed. */
  keyStale?: true;
  /** The key's tenant, once resolved. */
  tenant?: string;
  /** Why a key was refused (`unknown`, `revoked`, `expired`, `tenant-disabled`, `plan-unknown`). */
  keyProblem?: string;
  limits: Array<{
    id: string;
    by: string;
    allowed: boolean;
    remaining: number;
    resetMs: number;
  }>;
  retryAfterMs: number;
  store: string;
  storeMs: number;
  /** Why the store could not decide, when it could not. */
  storeError?: string;
  /** The isolate decided in its own memory because the store could not (`onStoreError: "local"`). */
  degraded?: "local";
  /** The list that refused (`deny-listed`) or exempted (`exempt`) the request. */
  list?: string;
  /** The rule whose own limits an `exempt` list skipped (the decision is then the application-wide limits', rule "*"). */
  exemptFrom?: string;
  /** `banned`: the ban's level (1 for the first, then each escalation) and when it ends (caller time, ms). */
  ban?: { level: number; untilMs: number; started: boolean };
  /** The request was held this long before it went on (`"action": "delay"`). */
  delayedMs?: number;
  /** An adaptive rule's factor on its rates (1: as written), as last stated by the store. */
  factor?: number;
  policyVersion: string;
  policyHash: string;
  /** When the gateway decided (ISO 8601); added by the gateway's observer, as are the fields below. */
  at?: string;
  /** The request's W3C trace id (its `traceparent`'s, or a new one). */
  traceId?: string;
  /** Sluice's span id in that trace: the parent the origin was given. */
  spanId?: string;
  /** With a canary: which policy decided (`stable` or `canary`) and both hashes. */
  policy?: "stable" | "canary";
  stablePolicyHash?: string;
  canaryPolicyHash?: string;
}

/** Where events go; the default writes one JSON line to the console. */
export type DecisionSink = (event: DecisionEvent) => void;

/**
 * @example
 * consoleSink({ msg: "sluice.decision", ... }) // {"msg":"sluice.decision",...}
 */
export const consoleSink: DecisionSink = (event) => {
  console.log(JSON.stringify(event));
};

/**
 * Runtime list entries could not be read: the policy's lists alone apply
 * until the next try (every 5 s).
 */
export function logListsUnavailable(err: unknown): void {
  const reason = err instanceof Error ? err.message : String(err);
  console.warn(JSON.stringify({ msg: "sluice.lists_unavailable", error: reason }));
}

/** A configuration problem, logged once per isolate and on every refused request. */
export function logConfigError(lines: readonly string[]): void {
  console.error(JSON.stringify({ msg: "sluice.config_invalid", errors: lines }));
}

/** Legal but suspicious settings (trusting X-Forwarded-For, odd IPv6 subnets), logged once per isolate. */
export function logConfigWarnings(lines: readonly string[]): void {
  if (lines.length > 0)
    console.warn(JSON.stringify({ msg: "sluice.config_warning", warnings: lines }));
}

/**
 * How an audited change ended, when it did not simply apply: `failed` (the
 * store refused or was never reached: nothing changed) or `unknown` (the
 * store call ran out of time or broke: the change may have applied).
 */
export type AuditOutcome = "failed" | "unknown";

/**
 * One `sluice.audit` line per admin action (and per failed admin login); the
 * entry is also stored in the directory's audit trail. A change whose store
 * call did not answer is logged all the same, with its `outcome`.
 *
 * @example
 * logAudit({ at, actor: "ops", ip, action: "key.revoke", target: "key:…", details: {} });
 */
export function logAudit(entry: AuditEntry, outcome?: AuditOutcome): void {
  console.log(JSON.stringify({ msg: "sluice.audit", ...entry, ...(outcome ? { outcome } : {}) }));
}
