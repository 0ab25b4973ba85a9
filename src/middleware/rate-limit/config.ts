/** @module middleware/rate-limit/config — `rateLimit()` options → one fully defaulted configuration, checked once. */
import type { Context } from "hono";
import type { Identity } from "../../identity/types.ts";
import { LocalFallback } from "../../limiter/fallback.ts";
import type { Decision, LimitStore } from "../../limiter/types.ts";
import { consoleSink, type DecisionSink } from "../../observe/index.ts";
import { formatIssues, hashPolicy } from "../../policy/load.ts";
import { compileMatcher } from "../../policy/match.ts";
import { applicationRule } from "../../policy/protect.ts";
import type { LoadedPolicy, Policy, Rule } from "../../policy/types.ts";
import { validatePolicy } from "../../policy/validate.ts";
import { Screen } from "../../protect/screen.ts";
import { MemoryStore } from "../../stores/memory/limit-store.ts";
import type { TenantServices } from "../../tenants/authenticate.ts";
import { OriginHealth } from "./adaptive.ts";

/** What the middleware decided, readable downstream as `c.get("rateLimit")`. */
export interface RateLimitInfo {
  rule: string;
  mode: "enforce" | "shadow";
  identity: Identity;
  /** Absent when the store could not decide and the rule failed open. */
  decision?: Decision;
}

/** For apps that declare their variables; `c.get("rateLimit")` is typed without it too. */
export interface RateLimitVariables {
  rateLimit: RateLimitInfo | undefined;
}

declare module "hono" {
  interface ContextVariableMap {
    rateLimit?: RateLimitInfo | undefined;
  }
}

export interface RateLimitOptions {
  /**
   * The policy: either as written (JSON-shaped, validated here, throwing on
   * any problem) or a `LoadedPolicy` from `loadPolicy()`.
   */
  policy: LoadedPolicy | Record<string, unknown>;
  /**
   * Where limits are kept; a function picks one per request (e.g. from
   * bindings). Default: a `MemoryStore` of this middleware (one process's
   * counts: right for a single Node, Bun or Deno server, not for Workers).
   */
  store?: LimitStore | ((c: Context) => LimitStore);
  /** Caller's clock in ms; tests inject one. */
  clock?: () => number;
  /** Decision log; defaults to one JSON line on the console. */
  sink?: DecisionSink;
  /**
   * Issued keys (required when the policy has `tenants`): resolves keys to
   * tenants and limits failed attempts per address.
   */
  tenants?: TenantServices | ((c: Context) => TenantServices);
  /**
   * The client's address, instead of the policy's `identity.ip.source` (e.g.
   * `getConnInfo(c).remote.address` on Node, as Hono's `ipRestriction` takes it).
   */
  getIP?: (c: Context) => string | undefined;
  /** The raw API key, instead of the policy's header or bearer token; hashed before use. */
  getKey?: (c: Context) => string | undefined;
  /**
   * The client's country for `lists[].countries` (default: `request.cf.country`,
   * which Cloudflare sets on Workers).
   */
  getCountry?: (c: Context) => string | undefined;
  /**
   * The screen stage with runtime list entries (the gateway's, shared with its
   * admin API). Default: the policy's lists alone.
   */
  screen?: Screen;
  /**
   * Builds the refusal for a denied request (default: 429 problem+json).
   * `Retry-After` and the RateLimit fields are added to what it returns.
   */
  handler?: (
    c: Context,
    info: RateLimitInfo & { decision: Decision },
  ) => Response | Promise<Response>;
  /**
   * Waits `ms` for a held request (rules with `"action": "delay"`); resolves
   * false when `signal` aborts first (the client went away). Tests inject
   * one that does not sleep.
   */
  hold?: (ms: number, signal: AbortSignal) => Promise<boolean>;
}

/** The options with every default applied: the hot path never checks for `undefined`. */
export interface RateLimitConfig {
  policy: Policy;
  /** Resolves once: raw policies are hashed lazily. */
  hash: () => Promise<string>;
  match: (method: string, path: string) => Rule | undefined;
  clock: () => number;
  sink: DecisionSink;
  store: (c: Context) => LimitStore;
  /** Where `onStoreError: "local"` decides while the store cannot: the store's recent denials, then this middleware's memory. */
  fallback: LocalFallback;
  tenants: (c: Context) => TenantServices | undefined;
  getIP: ((c: Context) => string | undefined) | undefined;
  getKey: ((c: Context) => string | undefined) | undefined;
  handler: RateLimitOptions["handler"];
  hold: (ms: number, signal: AbortSignal) => Promise<boolean>;
  /** An adaptive rule's view of the origin from this isolate; undefined for other rules. */
  health: (rule: Rule) => OriginHealth | undefined;
  /** Lists: which a request is on. */
  screen: Screen;
  getCountry: (c: Context) => string | undefined;
  /** The application-wide limits as a rule (`*`): what unmatched or exempted requests meet. */
  appRule: Rule;
  /** Ids of the application-wide limits, to tell their states from a rule's. */
  appIds: ReadonlySet<string>;
  /** Every request passes through (lists or application-wide limits), not only matched ones. */
  screensAll: boolean;
}

/** Invalid `rateLimit()` options: the policy's problems, one per line. */
export class RateLimitConfigError extends Error {
  override readonly name = "RateLimitConfigError";
}

/**
 * Validates and defaults the options, once, when the middleware is created.
 *
 * @throws {RateLimitConfigError} when the policy is invalid, or has `tenants` but no `tenants` services were given.
 * @example
 * const config = configure({ policy: { rules: [...] } });
 */
export function configure(options: RateLimitOptions): RateLimitConfig {
  const { policy, hash } = resolvePolicy(options.policy);
  const tenants = options.tenants;
  if (policy.tenants.enabled && !tenants) {
    throw new RateLimitConfigError(
      'the policy has "tenants" (issued keys) but rateLimit() was given no `tenants` resolver',
    );
  }
  const store = options.store ?? new MemoryStore();
  const health = new Map<string, OriginHealth>();
  for (const rule of policy.rules) {
    if (rule.adaptive)
      health.set(rule.name, new OriginHealth(policy.prefix, { ...rule, adaptive: rule.adaptive }));
  }
  const screen = options.screen ?? new Screen(policy.lists);
  const appRule = applicationRule(policy.limits);
  let hashed: Promise<string> | undefined;
  return {
    policy,
    hash: () => {
      hashed ??= hash();
      return hashed;
    },
    match: compileMatcher(policy.rules),
    clock: options.clock ?? Date.now,
    sink: options.sink ?? consoleSink,
    store: typeof store === "function" ? store : () => store,
    fallback: new LocalFallback(new MemoryStore()),
    tenants: typeof tenants === "function" ? tenants : () => tenants,
    getIP: options.getIP,
    getKey: options.getKey,
    handler: options.handler,
    hold: options.hold ?? sleep,
    health: (rule) => health.get(rule.name),
    screen,
    getCountry: options.getCountry ?? cfCountry,
    appRule,
    appIds: new Set(policy.limits.map((l) => l.id)),
    screensAll: screen.active || appRule.limits.length > 0,
  };
}

/** Cloudflare's `request.cf.country` (absent off Workers and in some local runs). */
function cfCountry(c: Context): string | undefined {
  const cf = (c.req.raw as Request & { cf?: { country?: unknown } }).cf;
  return typeof cf?.country === "string" ? cf.country : undefined;
}

/** Waits `ms`, or less when `signal` aborts: true when the full time passed. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (held: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", gone);
      resolve(held);
    };
    const gone = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", gone, { once: true });
  });
}

function resolvePolicy(input: RateLimitOptions["policy"]): {
  policy: Policy;
  hash: () => Promise<string>;
} {
  if (isLoaded(input)) return { policy: input.policy, hash: () => Promise.resolve(input.hash) };
  const result = validatePolicy(input);
  if (!result.ok) throw new RateLimitConfigError(formatIssues(result.issues));
  return { policy: result.policy, hash: () => hashPolicy(result.policy) };
}

function isLoaded(input: RateLimitOptions["policy"]): input is LoadedPolicy {
  return (
    typeof input.hash === "string" && typeof input.policy === "object" && input.policy !== null
  );
}
