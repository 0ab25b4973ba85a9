/** @module middleware/rate-limit/act — a decision (or a refusal) → forward or refuse, the response's fields, and the one log line. */
import type { Context, Next } from "hono";
import type { Identity } from "../../identity/types.ts";
import { FULL_PPM } from "../../limiter/adaptive.ts";
import type { DecideRequest, Decision, LimitStore, StoreFailure } from "../../limiter/types.ts";
import type { DecisionEvent, Outcome } from "../../observe/index.ts";
import type { Limit, Rule } from "../../policy/types.ts";
import { addHeaders, addToContext, type Header, rateLimitHeaders } from "../../respond/headers.ts";
import {
  abandoned,
  originPaused,
  SluiceHttpError,
  storeUnavailable,
  tooManyRequests,
} from "../../respond/problem.ts";
import { isCustomRefusal, type RefusalValues, refusalResponse } from "../../respond/refusal.ts";
import type { OriginHealth } from "./adaptive.ts";
import type { RateLimitConfig } from "./config.ts";
import { refundAfter, statusCounts } from "./count-status.ts";
import { giveBack, releaseAfterResponse } from "./throttle.ts";

/** What the request path has learnt so far, for the decision's log line. */
export interface Trace {
  rule: Rule;
  identity: Identity;
  method: string;
  path: string;
  policyHash: string;
  keyId?: string;
  keyStale?: true;
  keyProblem?: string;
  store: string;
  storeMs: number;
  storeError?: string;
  /** The request waited this long for its turn. */
  delayedMs?: number;
  /** Why the store could not decide, as a word for headers. */
  storeFailure?: StoreFailure;
  /** The list that refused or exempted the request. */
  list?: string;
  /** The rule an `exempt` list skipped (`rule` is then the application-wide `*`). */
  exemptFrom?: string;
}

/**
 * The decide stage's result. `decision` is absent when the store could not
 * decide and the rule does not fall back; `degraded: "local"` when this
 * isolate decided in its memory instead.
 */
export interface Verdict {
  request: DecideRequest;
  store: LimitStore;
  decision: Decision | undefined;
  degraded?: "local";
}

/**
 * Logs `outcome` and throws `error`: every refusal before the decision
 * (no key, a bad key, a locked-out address, an unresolvable key).
 *
 * @throws {SluiceHttpError} always: `error`.
 */
export function refuse(
  config: RateLimitConfig,
  trace: Trace,
  outcome: Outcome,
  error: SluiceHttpError,
  decision?: Decision,
): never {
  log(config, trace, outcome, decision);
  throw error;
}

/**
 * An adaptive rule whose origin asked for a pause answers from memory
 * until it ends, without a store call (shadow rules are never felt).
 *
 * @throws {SluiceHttpError} 503 with the pause's Retry-After.
 */
export function refuseWhilePaused(config: RateLimitConfig, trace: Trace, nowMs: number): void {
  const pauseUntilMs = config.health(trace.rule)?.pauseUntilMs ?? 0;
  if (pauseUntilMs <= nowMs || trace.rule.mode === "shadow") return;
  refuse(config, trace, "paused", originPaused(trace.rule.name, pauseUntilMs - nowMs));
}

/** Hands the request on; for an adaptive rule, what the origin answered joins this isolate's tally. */
async function forward(
  c: Context,
  next: Next,
  health: OriginHealth | undefined,
  clock: () => number,
): Promise<void> {
  if (!health) return next();
  const answered = health.watch();
  try {
    await next();
  } catch (err) {
    answered(undefined, clock());
    throw err;
  }
  answered(c.res, clock());
}

/** Forwards a shadow rule's request the store could not vouch for: shadow rules are never felt. */
export function passShadow(
  c: Context,
  next: Next,
  config: RateLimitConfig,
  trace: Trace,
): Promise<void> {
  c.set("rateLimit", info(trace, undefined));
  log(config, trace, "degraded-allowed");
  return next();
}

/**
 * Acts on the verdict: forward (with the RateLimit fields), refuse with 429,
 * or apply the rule's `onStoreError` when there is no decision.
 *
 * @throws {SluiceHttpError} the 429 or 503 that refuses the request.
 */
export async function act(
  c: Context,
  next: Next,
  config: RateLimitConfig,
  trace: Trace,
  verdict: Verdict,
): Promise<void> {
  const { rule } = trace;
  const { decision, degraded } = verdict;
  c.set("rateLimit", info(trace, decision));
  const timing = storeTiming(trace);
  if (!decision) return withoutDecision(c, next, config, trace, timing);
  if (rule.mode === "shadow") {
    // Shadow rules are measured, never felt: no headers, no 429.
    log(config, trace, decision.allowed ? "allowed" : "shadow-denied", decision, degraded);
    return forward(c, next, config.health(rule), config.clock);
  }
  const headers = [timing, ...limitFields(config, trace, decision)];
  // The limits were this isolate's own while the store was away (README "Store trouble").
  if (degraded) headers.push(["Sluice-Degraded", degraded]);
  const pausedMs = (decision.adaptive?.pauseUntilMs ?? 0) - config.clock();
  if (pausedMs > 0) {
    if (decision.allowed) giveBack(c, verdict.store, verdict.request);
    refuse(config, trace, "paused", originPaused(rule.name, pausedMs), decision);
  }
  if (!decision.allowed) {
    log(config, trace, refusedOutcome(decision), decision, degraded);
    throw await denial(c, config, trace, decision, headers);
  }
  if (decision.delayMs) await holdTurn(c, config, trace, verdict, decision.delayMs);
  // W3C Server Timing: how long the request waited, for its turn or for a free slot.
  if (trace.delayedMs) headers.push(["Server-Timing", `sluice-delay;dur=${trace.delayedMs}`]);
  const admitted = degraded ? "degraded-local" : "allowed";
  const event = log(config, trace, admitted, decision, degraded);
  await forward(c, next, config.health(rule), config.clock);
  addToContext(c, headers);
  releaseAfterResponse(c, verdict.store, verdict.request);
  if (rule.countStatus && !statusCounts(c.res.status, rule.countStatus)) {
    // Only some outcomes count (e.g. failed logins): give this one back.
    refundAfter(c, verdict.store, verdict.request, config.sink, event);
  }
}

/**
 * Holds an admitted request until its reserved turn. A client that goes
 * away meanwhile gives its reservation and lease back.
 *
 * @throws {SluiceHttpError} 503 (unread) when the client went away.
 */
async function holdTurn(
  c: Context,
  config: RateLimitConfig,
  trace: Trace,
  verdict: Verdict,
  delayMs: number,
): Promise<void> {
  // After any wait for a free slot.
  trace.delayedMs = (trace.delayedMs ?? 0) + delayMs;
  if (await config.hold(delayMs, c.req.raw.signal)) return;
  giveBack(c, verdict.store, verdict.request);
  log(config, trace, "abandoned", verdict.decision);
  throw abandoned(trace.rule.name);
}

async function withoutDecision(
  c: Context,
  next: Next,
  config: RateLimitConfig,
  trace: Trace,
  timing: Header,
): Promise<void> {
  if (trace.rule.mode === "enforce" && trace.rule.onStoreError === "deny") {
    log(config, trace, "store-denied");
    throw storeUnavailable(trace.rule.name).withHeaders([timing]);
  }
  log(config, trace, "degraded-allowed");
  await next();
  addToContext(c, [timing, ["Sluice-Degraded", `store-${trace.storeFailure ?? "error"}`]]);
}

/**
 * W3C Server Timing: how long the store took, for whoever debugs latency,
 * and, when it could not decide, why (`timeout`, `error`, `skipped`, `overload`).
 */
function storeTiming(trace: Trace): Header {
  const why = trace.storeFailure ? `;desc="${trace.storeFailure}"` : "";
  return ["Server-Timing", `sluice-store;dur=${trace.storeMs}${why}`];
}

/**
 * The RateLimit fields (draft-ietf-httpapi-ratelimit-headers), unless the rule
 * hides them (`rateLimitHeaders: false`, Flask-Limiter's headers_enabled).
 */
function limitFields(config: RateLimitConfig, trace: Trace, decision: Decision): Header[] {
  if (!trace.rule.rateLimitHeaders) return [];
  return rateLimitHeaders(decision, { legacy: config.policy.headers.legacy });
}

/**
 * The refusal: the rule's own (`response`) if it has one, else the app's
 * `handler`, else 429 problem+json; Retry-After and the RateLimit fields
 * (unless hidden) either way.
 */
async function denial(
  c: Context,
  config: RateLimitConfig,
  trace: Trace,
  decision: Decision,
  headers: readonly Header[],
): Promise<SluiceHttpError> {
  const fallback = tooManyRequests({
    rule: trace.rule.name,
    retryAfterMs: decision.retryAfterMs,
    decision,
  });
  const own = isCustomRefusal(trace.rule.response)
    ? refusalResponse(trace.rule.response, refusalValues(trace, decision))
    : await config.handler?.(c, { ...info(trace, decision), decision });
  if (!own) return fallback.withHeaders(headers);
  const res = new Response(own.body, own);
  addHeaders(res.headers, headers);
  const retryAfter = fallback.res?.headers.get("retry-after");
  if (retryAfter && !res.headers.has("retry-after")) res.headers.set("retry-after", retryAfter);
  return new SluiceHttpError(res);
}

/** What a rule's refusal body's placeholders stand for. */
function refusalValues(trace: Trace, decision: Decision): RefusalValues {
  const denied = decision.limits.filter((l) => !l.allowed).map((l) => l.id);
  return {
    rule: trace.rule.name,
    limit: decision.banned ? "ban" : denied.join(","),
    retryAfterMs: decision.retryAfterMs,
    tenant: trace.identity.tenant ?? "",
  };
}

/** What `c.get("rateLimit")` shows downstream. */
export function info(trace: Trace, decision: Decision | undefined) {
  return {
    rule: trace.rule.name,
    mode: trace.rule.mode,
    identity: trace.identity,
    ...(decision ? { decision } : {}),
  };
}

/** Writes the decision's one log line (plain admissions only when `log.allowed`). */
export function log(
  config: RateLimitConfig,
  trace: Trace,
  outcome: Outcome,
  decision?: Decision,
  degraded?: "local",
): DecisionEvent {
  const { rule, identity } = trace;
  const health = config.health(rule);
  const event: DecisionEvent = {
    msg: "sluice.decision",
    rule: rule.name,
    outcome,
    mode: rule.mode,
    method: trace.method,
    path: trace.path,
    ipKey: identity.ipKey,
    ...(trace.keyId ? { keyId: trace.keyId } : {}),
    ...(trace.keyStale ? { keyStale: true } : {}),
    ...(identity.tenant ? { tenant: identity.tenant } : {}),
    ...(trace.keyProblem ? { keyProblem: trace.keyProblem } : {}),
    limits: (decision?.limits ?? []).map((s) => ({
      id: s.id,
      by: countedBy(rule.limits, s.id) || countedBy(config.appRule.limits, s.id),
      allowed: s.allowed,
      remaining: s.remaining,
      resetMs: s.resetMs,
    })),
    retryAfterMs: decision?.retryAfterMs ?? 0,
    store: trace.store,
    storeMs: trace.storeMs,
    ...(trace.storeError ? { storeError: trace.storeError } : {}),
    ...(degraded ? { degraded } : {}),
    ...(trace.delayedMs ? { delayedMs: trace.delayedMs } : {}),
    ...(health ? { factor: health.factorPpm / FULL_PPM } : {}),
    ...protectionFields(trace, decision),
    policyVersion: config.policy.version,
    policyHash: trace.policyHash,
  };
  if (outcome !== "allowed" || config.policy.log.allowed) config.sink(event);
  return event;
}

/** Why a decision refused: a ban, a concurrency cap, or a limit. */
function refusedOutcome(decision: Decision): Outcome {
  if (decision.banned) return "banned";
  return decision.concurrency ? "concurrency-denied" : "denied";
}

/** The list and ban behind a decision, for its log line. */
function protectionFields(trace: Trace, decision: Decision | undefined) {
  const banned = decision?.banned;
  return {
    ...(trace.list !== undefined ? { list: trace.list } : {}),
    ...(trace.exemptFrom !== undefined ? { exemptFrom: trace.exemptFrom } : {}),
    ...(banned
      ? { ban: { level: banned.level, untilMs: banned.untilMs, started: banned.started } }
      : {}),
  };
}

/** What a decision's limit counted by (a plan limit's checks are named `<limit id>-<rate id>`). */
function countedBy(limits: readonly Limit[], checkId: string): string {
  const limit =
    limits.find((l) => l.id === checkId) ??
    limits.find((l) => l.fromPlan && checkId.startsWith(`${l.id}-`));
  if (!limit) return "";
  return limit.by.kind === "header" ? `header:${limit.by.name}` : limit.by.kind;
}
