/** @module gateway/runtime — env → validated policy, one backend, origin and admin, built once per isolate. */
import type { MiddlewareHandler } from "hono";
import { ADMIN_AUTH_FAILURES, type AdminDeps, MIN_ADMIN_TOKEN_LENGTH } from "../admin/index.ts";
import { BlockedCache } from "../limiter/blocked-cache.ts";
import type { LimitStore } from "../limiter/types.ts";
import { rateLimit } from "../middleware/rate-limit/index.ts";
import {
  consoleSink,
  type DecisionSink,
  logAudit,
  logConfigError,
  logConfigWarnings,
} from "../observe/index.ts";
import type { Observer } from "../observe/observer.ts";
import { buildObserver } from "../observe/setup.ts";
import { formatIssues, loadPolicy } from "../policy/load.ts";
import type { LoadedPolicy, Policy } from "../policy/types.ts";
import type { Backend } from "../stores/backend.ts";
import { durableObjectBackend } from "../stores/durable-object/index.ts";
import { redisBackend } from "../stores/redis/index.ts";
import type { TenantServices } from "../tenants/authenticate.ts";
import { Directory } from "../tenants/directory.ts";
import { ADMIN_AUTH_RULE, AuthFailureGuard } from "../tenants/guard.ts";
import { KeyResolver } from "../tenants/resolver.ts";
import { type CanaryConfig, canarySplit, readCanary } from "./canary.ts";
import type { GatewayEnv, SluiceEnv } from "./env.ts";
import { parseOrigin } from "./origin.ts";

/** Everything a request needs, derived from env once per isolate. */
export interface Runtime {
  loaded: LoadedPolicy;
  /** The backend's limit store behind this isolate's blocked-subject cache. */
  store: LimitStore;
  origin: URL;
  /** Present when the policy has `tenants` (issued keys). */
  tenants: TenantServices | undefined;
  /** The rate-limit middleware for this policy and store (split with the canary's, when there is one). */
  limit: MiddlewareHandler<GatewayEnv>;
  /** Metrics, traces and alerts of this isolate. */
  observer: Observer;
  /** The canary policy, when `SLUICE_POLICY_CANARY` is set. */
  canary: CanaryConfig | undefined;
  /**
   * `"off"`: SLUICE_ADMIN_TOKEN is unset, the admin API does not exist.
   * `"token-too-short"`: set but guessable, so the admin API stays off.
   */
  admin: AdminDeps | "off" | "token-too-short";
}

/** A configuration that must not serve traffic: every request gets a 500 naming these. */
export interface ConfigFailure {
  errors: string[];
}

/** What the gateway passes through to the middleware and the admin API. */
export interface RuntimeOptions {
  bundledPolicy: unknown;
  clock: () => number;
  sink: DecisionSink | undefined;
  hold: ((ms: number, signal: AbortSignal) => Promise<boolean>) | undefined;
}

/**
 * Runtimes by env. The Workers runtime passes the same env object to every
 * request of an isolate, so the WeakMap answers at once; an equal env in a
 * new object (tests, some hosts) shares the runtime through its config key.
 *
 * @example
 * const runtimes = new RuntimeCache({ bundledPolicy, clock: Date.now, sink: undefined });
 * const rt = await runtimes.get(env);
 */
export class RuntimeCache {
  readonly #options: RuntimeOptions;
  readonly #byEnv = new WeakMap<SluiceEnv, Promise<Runtime | ConfigFailure>>();
  readonly #byConfig = new Map<string, Promise<Runtime | ConfigFailure>>();

  constructor(options: RuntimeOptions) {
    this.#options = options;
  }

  get(env: SluiceEnv): Promise<Runtime | ConfigFailure> {
    const known = this.#byEnv.get(env);
    if (known) return known;
    const key = JSON.stringify([
      env.SLUICE_POLICY,
      env.ORIGIN_URL,
      env.UPSTASH_REDIS_REST_URL,
      env.UPSTASH_REDIS_REST_TOKEN,
      env.SLUICE_ADMIN_TOKEN,
      env.SLUICE_METRICS_OFF,
      env.SLUICE_OTLP_ENDPOINT,
      env.SLUICE_OTLP_HEADERS,
      env.SLUICE_ANALYTICS_SAMPLE_RATE,
      env.SLUICE_ALERT_WEBHOOK_URL,
      env.SLUICE_ALERT_WEBHOOK_SECRET,
      env.SLUICE_POLICY_CANARY,
      env.SLUICE_POLICY_CANARY_PERCENT,
    ]);
    let entry = this.#byConfig.get(key);
    if (!entry) {
      entry = buildRuntime(env, this.#options);
      this.#byConfig.set(key, entry);
    }
    this.#byEnv.set(env, entry);
    return entry;
  }
}

/**
 * Builds the runtime from env, or explains why it cannot. Invalid config is
 * never half-applied: the whole runtime is refused.
 *
 * @example
 * const rt = await buildRuntime(env, { bundledPolicy, clock: Date.now, sink: undefined });
 * if ("errors" in rt) throw policyInvalid(rt.errors);
 */
export async function buildRuntime(
  env: SluiceEnv,
  options: RuntimeOptions,
): Promise<Runtime | ConfigFailure> {
  const errors: string[] = [];
  const result = await loadPolicy(options.bundledPolicy, env.SLUICE_POLICY);
  if (!result.ok) errors.push(...formatIssues(result.issues).split("\n"));
  if (result.warnings.length > 0) logConfigWarnings(formatIssues(result.warnings).split("\n"));
  const origin = parseOrigin(env.ORIGIN_URL);
  if (typeof origin === "string") errors.push(origin);
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = env;
  if (Boolean(url) !== Boolean(token)) {
    errors.push(
      "ERR_SLUICE_REDIS_CONFIG: set both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or neither",
    );
  }
  const canary = await readCanary(env);
  if (canary && "errors" in canary) errors.push(...canary.errors);
  if (
    errors.length > 0 ||
    !result.ok ||
    typeof origin === "string" ||
    (canary && "errors" in canary)
  ) {
    logConfigError(errors);
    return { errors };
  }
  const loaded = result.loaded;
  const { policy } = loaded;
  const timeoutMs = policy.store.timeoutMs;
  // The one place a backend is chosen: limits and the directory live together.
  const backendOptions = { timeoutMs, now: options.clock, shards: policy.store.shards };
  const backend: Backend =
    url && token
      ? redisBackend(url, token, backendOptions)
      : durableObjectBackend(env, backendOptions);
  // Per isolate: blocked subjects are answered without a store call.
  const store = new BlockedCache(backend.limits);
  const directory = new Directory(backend.documents, policy.tenants.namespace);
  const tenants = tenantServices(policy, store, directory);
  const observer = buildObserver(env, policy, options.clock, {});
  const limiter = (side: LoadedPolicy, services: TenantServices | undefined, fields: object) =>
    observedLimit(side, { store, tenants: services, observer, options, fields });
  let limit = limiter(loaded, tenants, {});
  if (canary) {
    const both = { stablePolicyHash: loaded.hash, canaryPolicyHash: canary.loaded.hash };
    const canaryTenants = tenantServices(canary.loaded.policy, store, directory);
    limit = canarySplit(
      limiter(loaded, tenants, { policy: "stable", ...both }),
      limiter(canary.loaded, canaryTenants, { policy: "canary", ...both }),
      canary.percent,
      policy.identity,
    );
  }
  return {
    loaded,
    store,
    origin,
    tenants,
    limit,
    observer,
    canary,
    admin: adminDeps(
      env.SLUICE_ADMIN_TOKEN,
      { policy, store, directory, tenants, metrics: observer.metricsReader },
      options.clock,
    ),
  };
}

/**
 * The rate-limit middleware with the observer's sink. The middleware is
 * given `log.allowed: true` so every decision reaches the sink (metrics
 * count them all); the sink prints plain admissions only if the policy's
 * own `log.allowed` says so. `fields` go into every line (the canary's).
 */
function observedLimit(
  loaded: LoadedPolicy,
  parts: {
    store: LimitStore;
    tenants: TenantServices | undefined;
    observer: Observer;
    options: RuntimeOptions;
    fields: object;
  },
): MiddlewareHandler<GatewayEnv> {
  const { store, tenants, observer, options } = parts;
  const { policy } = loaded;
  const sink = observer.sink(
    options.sink ?? consoleSink,
    policy.log.allowed,
    parts.fields as Record<string, unknown>,
  );
  return rateLimit<GatewayEnv>({
    policy: { policy: { ...policy, log: { allowed: true } }, hash: loaded.hash },
    store,
    ...(tenants ? { tenants } : {}),
    clock: options.clock,
    sink,
    ...(options.hold ? { hold: options.hold } : {}),
  });
}

function tenantServices(
  policy: Policy,
  store: LimitStore,
  directory: Directory,
): TenantServices | undefined {
  if (!policy.tenants.enabled) return undefined;
  return {
    resolver: new KeyResolver(directory, {
      ttlMs: policy.tenants.cacheTtlMs,
      staleIfErrorMs: policy.tenants.staleIfErrorMs,
    }),
    guard: new AuthFailureGuard(store, policy.prefix, policy.tenants.authFailures),
  };
}

function adminDeps(
  token: string | undefined,
  parts: {
    policy: Policy;
    store: LimitStore;
    directory: Directory;
    tenants: TenantServices | undefined;
    metrics: AdminDeps["metrics"];
  },
  clock: () => number,
): Runtime["admin"] {
  if (!token) return "off";
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) {
    // Logged once per isolate; the admin API answers 503 until it is fixed.
    logConfigError([
      `ERR_SLUICE_ADMIN_TOKEN: SLUICE_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (try: openssl rand -base64 32); the admin API is off until it is`,
    ]);
    return "token-too-short";
  }
  const { policy, store, directory, tenants, metrics } = parts;
  return {
    metrics,
    token,
    policy,
    directory,
    resolver: tenants?.resolver,
    keyGuard: tenants?.guard,
    tokenGuard: new AuthFailureGuard(store, policy.prefix, ADMIN_AUTH_FAILURES, ADMIN_AUTH_RULE),
    store,
    clock,
    log: logAudit,
  };
}
