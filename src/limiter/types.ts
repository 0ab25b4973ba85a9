/** @module limiter/types — the limiter's contract. Nothing here knows about HTTP. */
import type { Algorithm } from "../policy/types.ts";

/** One limit, resolved to a concrete store key for this request. */
export interface LimitCheck {
  /** Limit id (names the RateLimit item). */
  id: string;
  /** `<prefix>:<rule>:<limit-id>[~<algorithm tag>]:<subject>` — see `storeKey()` and `buildChecks()`. */
  key: string;
  algorithm: Algorithm;
  count: number;
  periodMs: number;
  burst: number;
  cost: number;
}

/** Outcome for one limit of a decision. */
export interface LimitState {
  id: string;
  /** Quota and window as stated in the policy (for RateLimit-Policy). */
  count: number;
  periodMs: number;
  /** The check's capacity and price in units, and how it counts (RateLimit fields need all three). */
  burst: number;
  cost: number;
  algorithm: Algorithm;
  /** Cost units still admissible right now after this request. */
  remaining: number;
  /** Until this limit is fully restored (allowed) or admits this request again (denied), ms. */
  resetMs: number;
  /** Did this limit alone admit the request? */
  allowed: boolean;
}

export interface Decision {
  allowed: boolean;
  /** 0 when allowed; otherwise ms until every denying limit admits the request. */
  retryAfterMs: number;
  limits: LimitState[];
}

/**
 * A store evaluates all limits of one request in one atomic step.
 *
 * Contract:
 * - Atomic: every limit is checked, then all are committed or none is
 *   (unless `countRejected`, which commits the cost even on denial).
 * - Time: `nowMs` is the caller's clock; per key the store uses max(now, last seen).
 * - Not retry-safe: a retried call may consume twice, so callers do not retry.
 * - Batching: a store may carry concurrent decisions in one call; each is
 *   still decided atomically and in arrival order, exactly as one at a time.
 * - Failure: rejects (never hangs past the store's own time budget); the caller
 *   applies the rule's `onStoreError`.
 * - Safe for concurrent use.
 */
export interface LimitStore {
  readonly kind: "redis" | "durable-object" | "memory";
  decide(req: DecideRequest): Promise<Decision>;
  /** The decision `decide` would make now, writing nothing (one store call). */
  peek(req: DecideRequest): Promise<Decision>;
  /**
   * Gives back each check's `cost` (e.g. a login that succeeded), never past
   * a full bucket / empty window. One store call; a missing key is a no-op.
   */
  refund(req: DecideRequest): Promise<void>;
  /** Deletes the state of these keys of `rule`: their subjects start idle. One store call. */
  reset(rule: string, keys: readonly string[]): Promise<void>;
  /** Cheap reachability probe for health checks. */
  ping(): Promise<void>;
}

export interface DecideRequest {
  /** Rule name; stores may shard by it (all of a rule's keys share it). */
  rule: string;
  checks: LimitCheck[];
  nowMs: number;
  countRejected: boolean;
  /**
   * Keeps the caller's request alive until `work` settles (Workers'
   * `ctx.waitUntil`): a store that batches may send a call carrying other
   * requests' decisions from this request, and it must not be cancelled
   * when this request has its answer.
   */
  waitUntil?: (work: Promise<unknown>) => void;
}

/**
 * Why a store could not decide: it ran out of time, failed, was skipped
 * (down: not asked until its next probe), or had too many decisions waiting.
 */
export type StoreFailure = "timeout" | "error" | "skipped" | "overload";

/** A store call failed or ran out of time, or was not made. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly reason: StoreFailure;
  constructor(message: string, reason: StoreFailure, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}
