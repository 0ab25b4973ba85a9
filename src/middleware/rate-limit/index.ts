/** @module middleware/rate-limit — Sluice's core as a Hono middleware: match → identify → screen → authenticate → decide → act. */
import type { Context, Env, MiddlewareHandler } from "hono";
import { canonicalOf } from "../../identity/canonical.ts";
import { identify } from "../../identity/index.ts";
import type { Identity } from "../../identity/types.ts";
import { scaledRequest } from "../../limiter/adaptive.ts";
import { needsKey, type Requester } from "../../limiter/checks.ts";
import { type DecideRequest, StoreError } from "../../limiter/types.ts";
import type { Rule } from "../../policy/types.ts";
import {
  badPath,
  forbidden,
  keyAttemptsLocked,
  storeUnavailable,
  unauthorized,
} from "../../respond/problem.ts";
import { keyId } from "../../tenants/api-keys.ts";
import { authenticate } from "../../tenants/authenticate.ts";
import { planRatesOf } from "../../tenants/plan.ts";
import { act, passShadow, refuse, refuseWhilePaused, type Trace, type Verdict } from "./act.ts";
import { waitUntilOf } from "./background.ts";
import { configure, type RateLimitConfig, type RateLimitOptions } from "./config.ts";
import {
  decideProtected,
  passUnlimited,
  protectedRequest,
  screen,
  screenTenant,
} from "./protect.ts";
import { throttleOf, waitForSlot } from "./throttle.ts";

export {
  RateLimitConfigError,
  type RateLimitInfo,
  type RateLimitOptions,
  type RateLimitVariables,
} from "./config.ts";

/** `requester` found no tenant to vouch for a shadow rule's request: forward it unlimited. */
const SHADOW_PASS = Symbol("shadow-pass");

/**
 * Enforces the policy: deny lists refuse before any rule, allow lists and
 * rules' `exempt` lists lift limits, the first matching rule's limits and the
 * application-wide ones are decided in one store call. With neither lists nor
 * application-wide limits, unmatched requests pass through untouched.
 * `c.get("rateLimit")` tells downstream handlers what was decided.
 *
 * @throws {RateLimitConfigError} when the policy is invalid, or has `tenants` without `tenants` services.
 * @see README.md#using-the-middleware-in-your-own-hono-app
 * @example
 * const app = new Hono();
 * app.use(rateLimit({ policy, store: new RedisStore(redis, { timeoutMs: 250 }) }));
 * app.get("/api/hello", (c) => c.json({ remaining: c.get("rateLimit")?.decision?.limits[0]?.remaining }));
 */
export function rateLimit<E extends Env = Env>(options: RateLimitOptions): MiddlewareHandler<E> {
  const config = configure(options);
  return async function rateLimit(c, next) {
    // Rules match the canonical path; a spelling origins could read otherwise is refused.
    const path = canonicalOf(c.req.raw);
    if ("refused" in path) throw badPath(path.refused);
    const matched = config.match(c.req.method, path.path);
    if (!matched && !config.screensAll) return next();
    // Unmatched requests meet lists and application-wide limits, as rule "*".
    const rule = matched ?? config.appRule;
    const nowMs = config.clock();
    const { tenants } = config.policy;
    const identity = await identify(
      c.req.raw,
      config.policy.identity,
      // No rule needs a key when none matched: skip hashing one.
      { ip: config.getIP?.(c), apiKey: matched ? config.getKey?.(c) : "" },
      tenants.enabled ? tenants : undefined,
    );
    const trace = await traceOf(c, config, rule, identity, path.path);
    const screening = await screen(c, config, trace, nowMs);
    const who = await requester(c, config, trace, nowMs);
    if (who === SHADOW_PASS) return passShadow(c, next, config, trace);
    refuseWhilePaused(config, trace, nowMs);
    const limited = await protectedRequest(
      config,
      trace,
      screenTenant(config, trace, screening),
      who,
      nowMs,
    );
    if (!limited) return passUnlimited(c, next, config, trace);
    // An exempted request is decided as the rule "*": its throttling is the rule's no more.
    const request: DecideRequest = { ...limited, ...(await throttleOf(config, trace.rule, who)) };
    const ask = (at: number) =>
      decideProtected(c, config, trace, { ...request, nowMs: at }, decide);
    const verdict = await waitForSlot(c, config, trace, ask, await ask(nowMs));
    return act(c, next, config, trace, verdict);
  };
}

async function traceOf(
  c: Context,
  config: RateLimitConfig,
  rule: Rule,
  identity: Identity,
  path: string,
): Promise<Trace> {
  return {
    rule,
    identity,
    method: c.req.method,
    path,
    policyHash: await config.hash(),
    ...(identity.apiKeyHash ? { keyId: keyId(identity.apiKeyHash) } : {}),
    store: "",
    storeMs: 0,
  };
}

/**
 * Who is asking, for the store keys. A rule that counts by key needs one;
 * with issued keys, the key must resolve to a tenant on an offered plan.
 *
 * @throws {SluiceHttpError} 401, 403, 429 (locked out) or 503 (key unresolvable), after logging it.
 */
async function requester(
  c: Context,
  config: RateLimitConfig,
  trace: Trace,
  nowMs: number,
): Promise<Requester | typeof SHADOW_PASS> {
  const { rule, identity } = trace;
  const base: Requester = {
    ipKey: identity.ipKey,
    ...(identity.apiKeyHash ? { apiKeyHash: identity.apiKeyHash } : {}),
    header: (name) => c.req.header(name),
  };
  if (!rule.limits.some(needsKey)) return base;
  if (!identity.apiKeyHash) {
    refuse(
      config,
      trace,
      "unauthorized",
      unauthorized(`The "${rule.name}" rule needs an API key.`),
    );
  }
  const services = config.tenants(c);
  if (!config.policy.tenants.enabled || !services) return base;
  const { apiKeyHash, ipKey, apiKeyMalformed } = identity;
  const auth = await authenticate(services, apiKeyHash, ipKey, nowMs, apiKeyMalformed);
  if (!auth.ok) {
    if ("keyProblem" in auth && auth.keyProblem) trace.keyProblem = auth.keyProblem;
    switch (auth.reason) {
      case "locked":
        return refuse(config, trace, "key-locked", keyAttemptsLocked(auth.retryAfterMs));
      case "tenant-disabled":
        return refuse(config, trace, "forbidden", forbidden("The API key's tenant is disabled."));
      case "invalid":
        // One message for unknown, revoked and expired keys: the reason is in the log only.
        return refuse(config, trace, "unauthorized", unauthorized("The API key is not valid."));
      case "unresolved":
        trace.storeError = `${auth.storeError.reason}: ${auth.storeError.message}`;
        // Never fail open on who the caller is, whatever the rule's onStoreError:
        // forwarding an unresolved key would hand the origin an anonymous request.
        if (rule.mode === "shadow") return SHADOW_PASS;
        return refuse(config, trace, "store-denied", storeUnavailable(rule.name));
    }
  }
  if (auth.stale) trace.keyStale = true;
  identity.tenant = auth.tenant.id;
  const planRates = planRatesOf(config.policy, auth.tenant, nowMs);
  if (!planRates && rule.limits.some((l) => l.fromPlan)) {
    trace.keyProblem = "plan-unknown";
    const plan = JSON.stringify(auth.tenant.plan);
    return refuse(
      config,
      trace,
      "forbidden",
      forbidden(`The tenant's plan ${plan} is not offered.`),
    );
  }
  return { ...base, tenantId: auth.tenant.id, ...(planRates ? { planRates } : {}) };
}

/**
 * One store call for the whole rule. When the store cannot decide, the
 * rule's `onStoreError` says what next: `local` decides in this isolate's
 * memory; `allow` and `deny` leave the decision absent for `act`.
 */
async function decide(
  c: Context,
  config: RateLimitConfig,
  trace: Trace,
  request: DecideRequest,
): Promise<Verdict> {
  const store = config.store(c);
  trace.store = store.kind;
  const health = config.health(trace.rule);
  const adaptive = health?.take();
  const started = Date.now();
  try {
    const waitUntil = waitUntilOf(c);
    const sent = {
      ...request,
      ...(adaptive ? { adaptive } : {}),
      ...(waitUntil ? { waitUntil } : {}),
    };
    const decision = await store.decide(sent);
    if (decision.adaptive) health?.heard(decision.adaptive);
    // Refunds and releases must name the limits as the store counted them.
    const counted = decision.adaptive
      ? scaledRequest(request, decision.adaptive.factorPpm)
      : request;
    // Should the store slow down next, its denials still stand.
    config.fallback.heard(counted, decision);
    return { request: counted, store, decision };
  } catch (err) {
    // Not sent, or refused: the tally waits for the next decision. A call that
    // timed out most likely arrived; its tally is not counted twice.
    const arrived = err instanceof StoreError && err.reason === "timeout";
    if (adaptive && !arrived) health?.restore(adaptive.report);
    if (!(err instanceof StoreError)) throw err;
    trace.storeError = `${err.reason}: ${err.message}`;
    trace.storeFailure = err.reason;
    if (trace.rule.onStoreError !== "local") return { request, store, decision: undefined };
    // Per-isolate limits while the store is away, scaled as last heard: never a flood let through.
    const local = health ? scaledRequest(request, health.factorPpm) : request;
    const decision = await config.fallback.decide(local);
    return { request: local, store: config.fallback.store, decision, degraded: "local" };
  } finally {
    trace.storeMs = Date.now() - started;
  }
}
