/** @module limiter/types — the limiter's contract. Nothing here knows about HTTP. */
import type { Algorithm } from "../policy/types.ts";
import type { AdaptiveConfig, HealthReport } from "./adaptive.ts";

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
  /** The smallest count an adaptive controller may scale it to (see `StepLimit.floorCount`). */
  floorCount?: number;
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
  /**
   * The subject is banned (see `DecideRequest.ban`): refused until `untilMs`
   * (caller time) whatever its limits say; `limits` is then empty and
   * `retryAfterMs` is the time left. `started`: this decision's denial began it.
   */
  banned?: { untilMs: number; level: number; started: boolean };
  /**
   * The concurrency cap refused it (see `DecideRequest.lease`): `inFlight`
   * requests of the subject already hold leases. Nothing was consumed.
   */
  concurrency?: { max: number; inFlight: number };
  /** The adaptive controller's factor (ppm of the full rate) and pause, after this decision's report. */
  adaptive?: { factorPpm: number; pauseUntilMs: number };
  /**
   * The request is admitted to go ahead this many ms from now (see
   * `DecideRequest.maxDelayMs`): its cost is reserved for then.
   */
  delayMs?: number;
}

/**
 * Repeat offenders are banned: after `after` denials within `withinMs` the
 * subject is refused for `forMs`; each new ban within a day of the last one's
 * end lasts `escalate` times longer than the last, at most `maxMs`.
 */
export interface BanSpec {
  /** State key of the subject's strikes and ban. */
  key: string;
  after: number;
  withinMs: number;
  forMs: number;
  escalate: number;
  maxMs: number;
}

/**
 * A concurrency cap: at most `max` requests of a subject in flight. A lease
 * is taken in the same call as the decision and held until given back
 * (`LimitStore.release`) or until `ttlMs` passes, so a crashed isolate cannot
 * leak capacity.
 */
export interface LeaseSpec {
  /** State key of the subject's leases. */
  key: string;
  max: number;
  /** This request's lease (letters and digits). */
  id: string;
  ttlMs: number;
}

/** A rule's adaptive controller in a decision (see `limiter/adaptive.ts`). */
export interface AdaptiveSpec {
  /** State key of the rule's controller. */
  key: string;
  config: AdaptiveConfig;
  report: HealthReport;
}

/** One ban in force, as a store lists it. */
export interface BanEntry {
  /** The ban's state key (`<prefix>:<rule>:~ban:<subject>`). */
  key: string;
  /** Caller time the ban ends. */
  untilMs: number;
  level: number;
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
  /** Deletes the state of these keys of `rule`: their subjects start idle (a ban is lifted). One store call. */
  reset(rule: string, keys: readonly string[]): Promise<void>;
  /** Gives a lease back (the response was sent, or the client went away). Batched like decisions. */
  release(lease: { rule: string; key: string; id: string; nowMs: number }): Promise<void>;
  /** Bans in force at `nowMs` whose keys start with `prefix`, for the rules named (admin only). */
  listBans(prefix: string, rules: readonly string[], nowMs: number): Promise<BanEntry[]>;
  /** Cheap reachability probe for health checks. */
  ping(): Promise<void>;
}

export interface DecideRequest {
  /** Rule name; stores may shard by it (all of a rule's keys share it). */
  rule: string;
  checks: LimitCheck[];
  nowMs: number;
  countRejected: boolean;
  /** Ban repeat offenders: checked before the limits, struck by each denial, in the same call. */
  ban?: BanSpec;
  /**
   * Delay instead of refusing (every check a `gcra` or `token-bucket`): a
   * request that would be denied but is admissible within this many ms is
   * admitted with `delayMs`, its cost reserved for then in the same call.
   */
  maxDelayMs?: number;
  /** Take a lease of a concurrency cap with the decision: admitted only if one is free. */
  lease?: LeaseSpec;
  /**
   * The rule's adaptive controller: this isolate's report of the origin's
   * health since its last one, added to the controller's window in the same
   * call; the decision answers with the factor and pause now in force.
   */
  adaptive?: AdaptiveSpec;
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
