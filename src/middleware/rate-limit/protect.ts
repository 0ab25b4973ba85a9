/** @module middleware/rate-limit/protect — the protection steps: screen (lists), exemptions, application-wide limits, bans. */
import type { Context, Next } from "hono";
import { banOf, buildChecks, type Requester } from "../../limiter/checks.ts";
import { stated } from "../../limiter/model.ts";
import type { DecideRequest, Decision, LimitCheck } from "../../limiter/types.ts";
import type { Screening } from "../../protect/screen.ts";
import { denyListed } from "../../respond/problem.ts";
import { info, log, refuse, type Trace, type Verdict } from "./act.ts";
import { waitUntilOf } from "./background.ts";
import type { RateLimitConfig } from "./config.ts";

/**
 * Screens the request by address and country, before any rule: a deny list
 * refuses it with 403 (and the log names the list).
 *
 * @throws {SluiceHttpError} 403 for a deny-listed client, after logging it.
 */
export async function screen(
  c: Context,
  config: RateLimitConfig,
  trace: Trace,
  nowMs: number,
): Promise<Screening> {
  const who = { ip: trace.identity.ip, country: config.getCountry(c) };
  const screening = await config.screen.check(who, nowMs, waitUntilOf(c));
  refuseDenied(config, trace, screening);
  return screening;
}

/**
 * The screening again once the key resolved to a tenant: tenant entries count
 * from here on (a deny-listed tenant is refused with 403).
 *
 * @throws {SluiceHttpError} 403 for a deny-listed tenant, after logging it.
 */
export function screenTenant(config: RateLimitConfig, trace: Trace, s: Screening): Screening {
  const tenant = trace.identity.tenant;
  if (!tenant || !config.screen.active) return s;
  const screening = s.withTenant(tenant);
  refuseDenied(config, trace, screening);
  return screening;
}

function refuseDenied(config: RateLimitConfig, trace: Trace, screening: Screening): void {
  const list = screening.denied;
  if (list === undefined) return;
  trace.list = list;
  refuse(config, trace, "deny-listed", denyListed());
}

/**
 * What the store decides for this request: the rule's checks (unless a list
 * exempts the request from the rule), then the application-wide limits', in
 * one request, with the rule's ban. Undefined when no limit applies: an allow
 * list, or an exemption with no application-wide limits. An exempted request
 * is decided as the application-wide rule `*` (`trace.rule` changes, and the
 * log says which rule it skipped).
 */
export async function protectedRequest(
  config: RateLimitConfig,
  trace: Trace,
  screening: Screening,
  who: Requester,
  nowMs: number,
): Promise<DecideRequest | undefined> {
  const allowed = screening.allowed;
  if (allowed !== undefined) {
    trace.list = allowed;
    return undefined;
  }
  const { policy, appRule } = config;
  const rule = trace.rule;
  const exempt = screening.exempt(rule.exempt);
  let own: LimitCheck[] = [];
  if (exempt !== undefined) {
    trace.list = exempt;
    trace.exemptFrom = rule.name;
    trace.rule = appRule;
  } else if (rule !== appRule) {
    own = await buildChecks(policy, rule, who);
  }
  const checks =
    appRule.limits.length > 0 ? [...own, ...(await buildChecks(policy, appRule, who))] : own;
  if (checks.length === 0) return undefined;
  const ban = banOf(policy, trace.rule, own);
  return {
    rule: trace.rule.name,
    checks,
    nowMs,
    countRejected: trace.rule.countRejected,
    ...(ban ? { ban } : {}),
  };
}

/**
 * Forwards a request no limit applies to; logged as `exempt` when a list
 * made it so. An unmatched request with nothing to count passes untouched,
 * as without lists.
 */
export function passUnlimited(
  c: Context,
  next: Next,
  config: RateLimitConfig,
  trace: Trace,
): Promise<void> {
  if (trace.list === undefined && trace.rule === config.appRule) return next();
  c.set("rateLimit", info(trace, undefined));
  if (trace.list !== undefined) log(config, trace, "exempt");
  return next();
}

/** The decide stage (index.ts's `decide`), passed in to keep this module free of it. */
type Decide = (
  c: Context,
  config: RateLimitConfig,
  trace: Trace,
  request: DecideRequest,
) => Promise<Verdict>;

/**
 * Decides the request in one store call. A shadow rule is the exception: it
 * must never be felt, and deciding its limits with the application-wide ones
 * all-or-nothing would let its denials keep those from counting. So its
 * limits and the application-wide ones are decided apart (two calls, side by
 * side), and when an application-wide limit refuses, the request is refused
 * as the rule `*`.
 */
export async function decideProtected(
  c: Context,
  config: RateLimitConfig,
  trace: Trace,
  request: DecideRequest,
  decide: Decide,
): Promise<Verdict> {
  const split =
    trace.rule.mode === "shadow" && request.checks.some((ch) => config.appIds.has(ch.id));
  if (!split) return protectVerdict(config, await decide(c, config, trace, request));
  const appTrace: Trace = { ...trace, rule: config.appRule };
  const appRequest: DecideRequest = {
    rule: config.appRule.name,
    checks: request.checks.filter((ch) => config.appIds.has(ch.id)),
    nowMs: request.nowMs,
    countRejected: false,
  };
  const own = { ...request, checks: request.checks.filter((ch) => !config.appIds.has(ch.id)) };
  const [app, shadow] = await Promise.all([
    decide(c, config, appTrace, appRequest),
    decide(c, config, trace, own),
  ]);
  if (!app.decision || app.decision.allowed) return protectVerdict(config, shadow);
  Object.assign(trace, appTrace);
  return app;
}

/**
 * A ban answers without evaluating a limit; its response still carries the
 * rule's limits, each with nothing left until the ban ends, so the RateLimit
 * fields agree with Retry-After.
 */
function protectVerdict(config: RateLimitConfig, verdict: Verdict): Verdict {
  const { decision, request } = verdict;
  if (!decision?.banned || decision.limits.length > 0) return verdict;
  return { ...verdict, decision: { ...decision, limits: bannedLimits(config, request, decision) } };
}

/** The rule's own limits as a ban shows them: nothing left, full again when the ban ends. */
function bannedLimits(config: RateLimitConfig, request: DecideRequest, decision: Decision) {
  return request.checks
    .filter((check) => !config.appIds.has(check.id))
    .map((check) => ({
      ...stated(check),
      remaining: 0,
      resetMs: decision.retryAfterMs,
      allowed: false,
    }));
}
