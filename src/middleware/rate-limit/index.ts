/** @module middleware/rate-limit — Sluice's core as a Hono middleware: identify → match → decide → act. */
import type { Context, Env, MiddlewareHandler } from "hono";
import { identify } from "../../identity/index.ts";
import type { Identity } from "../../identity/types.ts";
import {
  type DecideRequest,
  type Decision,
  type LimitStore,
  StoreError,
} from "../../limiter/types.ts";
import {
  consoleSink,
  type DecisionEvent,
  type DecisionSink,
  type Outcome,
} from "../../observe/index.ts";
import { formatIssues, hashPolicy } from "../../policy/load.ts";
import { compileMatcher } from "../../policy/match.ts";
import type { Limit, LoadedPolicy, Policy } from "../../policy/types.ts";
import { validatePolicy } from "../../policy/validate.ts";
import { rateLimitHeaders } from "../../respond/headers.ts";
import {
  forbidden,
  keyAttemptsLocked,
  SluiceHttpError,
  storeUnavailable,
  tooManyRequests,
  unauthorized,
} from "../../respond/problem.ts";
import type { AuthFailureGuard } from "../../tenants/guard.ts";
import { keyId } from "../../tenants/api-keys.ts";
import type { KeyResolver } from "../../tenants/resolver.ts";
import type { Tenant } from "../../tenants/types.ts";
import { buildChecks, needsKey, PlanUnknownError } from "../../limiter/checks.ts";

/** What the middleware decided, readable downstream as `c.get("rateLimit")`. */
export interface RateLimitInfo {
  rule: string;
  mode: "enforce" | "shadow";
  identity: Identity;
  /** Absent when the store could not decide and the rule failed open. */
  decision?: Decision;
}

/** Declare these in your app's `Variables` to read `c.get("rateLimit")` with types. */
export interface RateLimitVariables {
  rateLimit: RateLimitInfo | undefined;
}

export interface RateLimitOptions {
  /**
   * The policy: either as written (JSON-shaped, validated here, throwing on
   * any problem) or a `LoadedPolicy` from `loadPolicy()`.
   */
  policy: LoadedPolicy | Record<string, unknown>;
  /** Where limits are kept; a function picks one per request (e.g. from bindings). */
  store: LimitStore | ((c: Context) => LimitStore);
  /** Caller's clock in ms; tests inject one. */
  clock?: () => number;
  /** Decision log; defaults to one JSON line on the console. */
  sink?: DecisionSink;
  /**
   * Issued keys (required when the policy has `tenants`): resolves keys to
   * tenants and limits failed attempts per address.
   */
  tenants?: TenantServices | ((c: Context) => TenantServices);
}

export interface TenantServices {
  resolver: KeyResolver;
  guard: AuthFailureGuard;
}

/**
 * Enforces the policy's rules. Unmatched requests pass through untouched.
 *
 * @example
 * const app = new Hono<{ Variables: RateLimitVariables }>();
 * app.use(rateLimit({ policy, store: new RedisStore(redis, { timeoutMs: 250 }) }));
 * app.get("/api/hello", (c) => c.json({ remaining: c.get("rateLimit")?.decision?.limits[0]?.remaining }));
 */
export function rateLimit<E extends Env & { Variables: RateLimitVariables }>(
  options: RateLimitOptions,
): MiddlewareHandler<E> {
  const { policy, hash } = resolvePolicy(options.policy);
  const match = compileMatcher(policy.rules);
  const clock = options.clock ?? Date.now;
  const sink = options.sink ?? consoleSink;
  const pickStore =
    typeof options.store === "function" ? options.store : () => options.store as LimitStore;
  const tenantsOption = options.tenants;
  if (policy.tenants && !tenantsOption) {
    throw new RateLimitConfigError(
      'the policy has "tenants" (issued keys) but rateLimit() was given no `tenants` resolver',
    );
  }
  const pickTenants =
    typeof tenantsOption === "function" ? tenantsOption : () => tenantsOption as TenantServices;

  let policyHash: string | undefined;

  return async function rateLimit(c, next) {
    const rule = match(c.req.method, c.req.path);
    if (!rule) return next();
    const identity = await identify(c.req.raw, policy.identity);
    policyHash ??= await hash;

    const event: DecisionEvent = {
      msg: "sluice.decision",
      rule: rule.name,
      outcome: "allowed",
      mode: rule.mode,
      method: c.req.method,
      path: c.req.path,
      ipKey: identity.ipKey,
      ...(identity.apiKeyHash ? { keyId: keyId(identity.apiKeyHash) } : {}),
      limits: [],
      retryAfterMs: 0,
      store: "",
      storeMs: 0,
      policyVersion: policy.version,
      policyHash,
    };
    const done = (outcome: Outcome) => {
      event.outcome = outcome;
      if (outcome !== "allowed" || policy.log.allowed) sink(event);
    };

    const nowMs = clock();
    const keyed = rule.limits.some(needsKey);
    if (keyed && !identity.apiKeyHash) {
      done("unauthorized");
      throw new SluiceHttpError(unauthorized(`The "${rule.name}" rule needs an API key.`));
    }
    let tenant: Tenant | undefined;
    if (keyed && policy.tenants && identity.apiKeyHash) {
      const found = await resolveTenant(pickTenants(c), identity, nowMs, event, done);
      if (found === "degraded") {
        if (rule.mode === "shadow") {
          // Shadow rules are never felt: forward, without a tenant to vouch for.
          c.set("rateLimit", { rule: rule.name, mode: rule.mode, identity });
          done("degraded-allowed");
          return next();
        }
        // Never fail open on who the caller is, whatever the rule's onStoreError:
        // forwarding an unresolved key would hand the origin an anonymous request.
        done("store-denied");
        throw new SluiceHttpError(storeUnavailable(rule.name));
      }
      tenant = found;
      identity.tenant = tenant.id;
      event.tenant = tenant.id;
    }

    let checks: Awaited<ReturnType<typeof buildChecks>>;
    try {
      checks = await buildChecks(policy, rule, whoFrom(identity, tenant, c), nowMs);
    } catch (err) {
      if (!(err instanceof PlanUnknownError)) throw err;
      event.keyProblem = "plan-unknown";
      done("forbidden");
      throw new SluiceHttpError(
        forbidden(`The tenant's plan ${JSON.stringify(err.plan)} is not offered.`),
      );
    }
    const store = pickStore(c);
    event.store = store.kind;
    const started = Date.now();
    const request: DecideRequest = {
      rule: rule.name,
      checks,
      nowMs,
      countRejected: rule.countRejected,
    };
    let decision: Decision | undefined;
    try {
      decision = await store.decide(request);
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      event.storeError = `${err.reason}: ${err.message}`;
    } finally {
      event.storeMs = Date.now() - started;
    }
    c.set("rateLimit", {
      rule: rule.name,
      mode: rule.mode,
      identity,
      ...(decision ? { decision } : {}),
    });
    // W3C Server Timing: how long the store took, for whoever debugs latency.
    const timing: Header = ["Server-Timing", `sluice-store;dur=${event.storeMs}`];

    if (!decision) {
      if (rule.mode === "enforce" && rule.onStoreError === "deny") {
        done("store-denied");
        throw new SluiceHttpError(withHeaders(storeUnavailable(rule.name), [timing]));
      }
      done("degraded-allowed");
      await next();
      addToContext(c, [timing, ["Sluice-Degraded", degradedReason(event)]]);
      return;
    }

    event.retryAfterMs = decision.retryAfterMs;
    event.limits = decision.limits.map((s) => ({
      id: s.id,
      by: subjectLabel(rule.limits, s.id),
      allowed: s.allowed,
      remaining: s.remaining,
      resetMs: s.resetMs,
    }));

    if (rule.mode === "shadow") {
      // Shadow rules are measured, never felt: no headers, no 429.
      done(decision.allowed ? "allowed" : "shadow-denied");
      return next();
    }
    const headers = [timing, ...rateLimitHeaders(decision, { legacy: policy.headers.legacy })];
    if (!decision.allowed) {
      done("denied");
      const res = tooManyRequests({
        rule: rule.name,
        retryAfterMs: decision.retryAfterMs,
        decision,
      });
      throw new SluiceHttpError(withHeaders(res, headers));
    }
    done("allowed");
    await next();
    addToContext(c, headers);
    if (rule.countStatus && !statusCounts(c.res.status, rule.countStatus)) {
      // Only some outcomes count (e.g. failed logins): give this one back,
      // after the response, off the request's critical path.
      background(c, refund(store, request, sink, event));
    }
  };
}

function degradedReason(event: DecisionEvent): string {
  return event.storeError?.startsWith("timeout") ? "store-timeout" : "store-error";
}

/** `"4xx"` matches 400–499, `"401"` only 401. */
function statusCounts(status: number, patterns: readonly string[]): boolean {
  const code = String(status);
  return patterns.some((p) => (p.endsWith("xx") ? p[0] === code[0] : p === code));
}

async function refund(
  store: LimitStore,
  request: DecideRequest,
  sink: DecisionSink,
  event: DecisionEvent,
): Promise<void> {
  try {
    await store.refund(request);
    sink({ ...event, outcome: "refunded" });
  } catch (err) {
    // A lost refund only makes the limit stricter; say so and move on.
    const reason = err instanceof Error ? err.message : String(err);
    sink({ ...event, outcome: "refund-failed", storeError: reason });
  }
}

/** Runs `work` after the response when the runtime allows it (Workers), else awaits it. */
function background(c: Context, work: Promise<void>): void {
  let ctx: { waitUntil(p: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    ctx = undefined;
  }
  if (ctx) ctx.waitUntil(work);
  else void work;
}

type Header = [name: string, value: string];

/** Adds our fields, keeping the response's own. Server-Timing is a list the origin may have started. */
function applyHeaders(target: Headers, headers: readonly Header[]): void {
  for (const [name, value] of headers) {
    if (name === "Server-Timing") target.append(name, value);
    else target.set(name, value);
  }
}

function withHeaders(res: Response, headers: readonly Header[]): Response {
  applyHeaders(res.headers, headers);
  return res;
}

/** As `withHeaders` on `c.res`; a response straight from `fetch` has immutable headers and is copied first. */
function addToContext(c: Context, headers: readonly Header[]): void {
  try {
    applyHeaders(c.res.headers, headers);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    c.res = new Response(c.res.body, c.res);
    applyHeaders(c.res.headers, headers);
  }
}

/** Invalid `rateLimit()` options: the policy's problems, one per line. */
export class RateLimitConfigError extends Error {
  override readonly name = "RateLimitConfigError";
}

function resolvePolicy(input: RateLimitOptions["policy"]): {
  policy: Policy;
  hash: Promise<string>;
} {
  if (isLoaded(input)) return { policy: input.policy, hash: Promise.resolve(input.hash) };
  const result = validatePolicy(input);
  if (!result.ok) throw new RateLimitConfigError(formatIssues(result.issues));
  return { policy: result.policy, hash: hashPolicy(result.policy) };
}

function isLoaded(input: RateLimitOptions["policy"]): input is LoadedPolicy {
  return (
    typeof input.hash === "string" && typeof input.policy === "object" && input.policy !== null
  );
}

/** What a decision's limit counted by (a plan limit's checks are named `<limit id>-<rate id>`). */
function subjectLabel(limits: readonly Limit[], checkId: string): string {
  const limit =
    limits.find((l) => l.id === checkId) ??
    limits.find((l) => l.fromPlan && checkId.startsWith(`${l.id}-`));
  if (!limit) return "";
  return limit.by.kind === "header" ? `header:${limit.by.name}` : limit.by.kind;
}

function whoFrom(identity: Identity, tenant: Tenant | undefined, c: Context) {
  return {
    ipKey: identity.ipKey,
    ...(identity.apiKeyHash ? { apiKeyHash: identity.apiKeyHash } : {}),
    ...(tenant ? { tenant } : {}),
    header: (name: string) => c.req.header(name),
  };
}

/**
 * The key's tenant, or throws the 401/403/429 that refuses it. An address
 * locked out for bad keys is refused without a store call unless its key is
 * already known here. `"degraded"`: the directory could not be read.
 */
async function resolveTenant(
  services: TenantServices,
  identity: Identity,
  nowMs: number,
  event: DecisionEvent,
  done: (outcome: Outcome) => void,
): Promise<Tenant | "degraded"> {
  const hash = identity.apiKeyHash as string;
  const locked = services.guard.lockedForMs(identity.ipKey, nowMs);
  if (locked > 0 && !services.resolver.isKnownValid(hash, nowMs)) {
    done("key-locked");
    throw new SluiceHttpError(keyAttemptsLocked(locked));
  }
  let found: Awaited<ReturnType<KeyResolver["resolve"]>>;
  try {
    found = await services.resolver.resolve(hash, nowMs);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    event.storeError = `${err.reason}: ${err.message}`;
    return "degraded";
  }
  if (found.ok) {
    if (found.stale) event.keyStale = true;
    return found.tenant;
  }
  event.keyProblem = found.reason;
  if (found.reason === "tenant-disabled") {
    done("forbidden");
    throw new SluiceHttpError(forbidden("The API key's tenant is disabled."));
  }
  if (locked > 0) {
    // Already locked out: refuse without counting again (no store call).
    done("key-locked");
    throw new SluiceHttpError(keyAttemptsLocked(locked));
  }
  const lockout = await services.guard.fail(identity.ipKey, nowMs);
  if (lockout > 0) {
    done("key-locked");
    throw new SluiceHttpError(keyAttemptsLocked(lockout));
  }
  done("unauthorized");
  // One message for unknown, revoked and expired keys: the reason is in the log only.
  throw new SluiceHttpError(unauthorized("The API key is not valid."));
}
