/** @module gateway/runtime — env → validated policy, one backend, origin and admin, built once per isolate. */
import type { MiddlewareHandler } from "hono";
import {
  ADMIN_AUTH_FAILURES,
  type AdminDeps,
  adminTokenWeakness,
  MIN_ADMIN_TOKEN_LENGTH,
} from "../admin/index.ts";
import { BlockedCache } from "../limiter/blocked-cache.ts";
import type { LimitStore } from "../limiter/types.ts";
import { rateLimit } from "../middleware/rate-limit/index.ts";
import { HealthProbe } from "../observe/health.ts";
import {
  consoleSink,
  type DecisionSink,
  logAudit,
  logConfigError,
  logConfigWarnings,
  logListsUnavailable,
} from "../observe/index.ts";
import type { Observer } from "../observe/observer.ts";
import { buildObserver } from "../observe/setup.ts";
import { formatIssues, loadPolicy } from "../policy/load.ts";
import type { LoadedPolicy, Policy } from "../policy/types.ts";
import { ListStore } from "../protect/list-store.ts";
import { Screen } from "../protect/screen.ts";
import type { Backend } from "../stores/backend.ts";
import { durableObjectBackend } from "../stores/durable-object/index.ts";
import { placementOf } from "../stores/durable-object/placement.ts";
import { redisBackend } from "../stores/redis/index.ts";
import type { TenantServices } from "../tenants/authenticate.ts";
import { Directory } from "../tenants/directory.ts";
import { ADMIN_AUTH_RULE, AuthFailureGuard } from "../tenants/guard.ts";
import { KeyResolver } from "../tenants/resolver.ts";
import { type CanaryConfig, canarySplit, readCanary } from "./canary.ts";
import type { GatewayEnv, SluiceEnv } from "./env.ts";
import { checkOrigin } from "./origin.ts";

/** Everything a request needs, derived from env once per isolate. */
export interface Runtime {
  loaded: LoadedPolicy;
  /** The backend's limit store behind this isolate's blocked-subject cache. */
  store: LimitStore;
  /** Probes the store at most once a second, for both health views. */
  health: HealthProbe;
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
   * `"token-too-short"` / `"token-weak"`: set but guessable, so the admin API stays off.
   */
  admin: AdminDeps | "off" | "token-too-short" | "token-weak";
}

/** A configuration that must not serve traffic: every request gets a 500 naming its fields. */
export interface ConfigFailure {
  /** `CODE at field: message`, for the log (logged once per isolate). */
  errors: string[];
  /** `CODE at field` only, for the 500 anyone can read: never a configured value. */
  fields: string[];
}

/** One problem with the configuration. */
interface ConfigIssue {
  code: string;
  field: string;
  message: string;
}

/** What the gateway passes through to the middleware and the admin API. */
export interface RuntimeOptions {
  bundledPolicy: unknown;
  clock: () => number;
  sink: DecisionSink | undefined;
  hold: ((ms: number, signal: AbortSignal) => Promise<boolean>) | undefined;
}

/** The env fields a runtime is built from: equal values, one runtime. */
export const CONFIG_FIELDS = [
  "SLUICE_POLICY",
  "ORIGIN_URL",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "SLUICE_ADMIN_TOKEN",
  "SLUICE_METRICS_OFF",
  "SLUICE_OTLP_ENDPOINT",
  "SLUICE_OTLP_HEADERS",
  "SLUICE_ANALYTICS_SAMPLE_RATE",
  "SLUICE_ALERT_WEBHOOK_URL",
  "SLUICE_ALERT_WEBHOOK_SECRET",
  "SLUICE_POLICY_CANARY",
  "SLUICE_POLICY_CANARY_PERCENT",
] as const satisfies readonly (keyof SluiceEnv)[];

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
    const key = JSON.stringify(CONFIG_FIELDS.map((field) => env[field]));
    let entry = this.#byConfig.get(key);
    if (!entry) {
      // Never a rejected promise kept for the isolate's life: a failure is a ConfigFailure.
      entry = buildRuntime(env, this.#options).catch((err: unknown) =>
        failure([
          {
            code: "ERR_SLUICE_CONFIG",
            field: "(env)",
            // The error's name only: messages of client libraries quote URLs and tokens.
            message: `the gateway could not start (${err instanceof Error ? err.name : "error"})`,
          },
        ]),
      );
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
 * if ("errors" in rt) throw policyInvalid(rt.fields);
 */
export async function buildRuntime(
  env: SluiceEnv,
  options: RuntimeOptions,
): Promise<Runtime | ConfigFailure> {
  const result = await loadPolicy(options.bundledPolicy, env.SLUICE_POLICY);
  if (result.warnings.length > 0) logConfigWarnings(formatIssues(result.warnings).split("\n"));
  const issues: ConfigIssue[] = result.ok
    ? []
    : result.issues.map((i) => ({ code: i.code, field: i.path || "(root)", message: i.message }));
  const origin = originIssue(env.ORIGIN_URL);
  if (!(origin instanceof URL)) issues.push(origin);
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = env;
  const redisIssue = checkRedis(url, token);
  if (redisIssue) issues.push(redisIssue);
  const canary = await readCanary(env);
  if (canary && "issues" in canary) issues.push(...canary.issues);
  if (
    issues.length > 0 ||
    !result.ok ||
    !(origin instanceof URL) ||
    (canary && "issues" in canary)
  ) {
    return failure(issues);
  }
  const loaded = result.loaded;
  const { policy } = loaded;
  const timeoutMs = policy.store.timeoutMs;
  // The one place a backend is chosen: limits and the directory live together.
  // By the stable policy alone: a canary moves no stable state (see placementOf).
  const placement = placementOf([policy]);
  const backendOptions = { timeoutMs, now: options.clock, shards: policy.store.shards, placement };
  const backend: Backend =
    url && token
      ? redisBackend(url, token, backendOptions)
      : durableObjectBackend(env, backendOptions);
  // Per isolate: blocked subjects are answered without a store call.
  const store = new BlockedCache(backend.limits);
  const directory = new Directory(backend.documents, policy.tenants.namespace);
  const tenants = tenantServices(policy, store, directory);
  // Runtime list entries live beside the directory; every isolate refreshes them in the background.
  const lists = new ListStore(directory, Object.keys(policy.lists));
  const screen = new Screen(policy.lists, lists, {
    firstLoadMs: timeoutMs,
    onError: logListsUnavailable,
  });
  const health = new HealthProbe(store, options.clock);
  const observer = buildObserver(env, policy, options.clock, {
    metricsStore: backend.metrics(policy.prefix),
  });
  const limiter = (side: LoadedPolicy, services: TenantServices | undefined, fields: object) =>
    observedLimit(side, { store, screen, tenants: services, observer, options, fields });
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
    health,
    origin,
    tenants,
    limit,
    observer,
    canary,
    admin: adminDeps(
      env.SLUICE_ADMIN_TOKEN,
      {
        policy,
        store,
        directory,
        tenants,
        health,
        lists: { store: lists, screen },
        metrics: observer.metricsReader,
      },
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
    screen: Screen;
    tenants: TenantServices | undefined;
    observer: Observer;
    options: RuntimeOptions;
    fields: object;
  },
): MiddlewareHandler<GatewayEnv> {
  const { store, screen, tenants, observer, options } = parts;
  const { policy } = loaded;
  const sink = observer.sink(
    options.sink ?? consoleSink,
    policy.log.allowed,
    parts.fields as Record<string, unknown>,
  );
  return rateLimit<GatewayEnv>({
    policy: { policy: { ...policy, log: { allowed: true } }, hash: loaded.hash },
    store,
    screen,
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
    lists: AdminDeps["lists"];
    health: HealthProbe;
    metrics: AdminDeps["metrics"];
  },
  clock: () => number,
): Runtime["admin"] {
  if (!token) return "off";
  const weakness = adminTokenWeakness(token, MIN_ADMIN_TOKEN_LENGTH);
  if (weakness) {
    // Logged once per isolate; the admin API answers 503 until it is fixed.
    logConfigError([
      `ERR_SLUICE_ADMIN_TOKEN at SLUICE_ADMIN_TOKEN: ${weakness}; use a random one (openssl rand -base64 32); the admin API is off until then`,
    ]);
    return token.length < MIN_ADMIN_TOKEN_LENGTH ? "token-too-short" : "token-weak";
  }
  const { policy, store, directory, tenants, health, lists, metrics } = parts;
  return {
    metrics,
    token,
    policy,
    directory,
    lists,
    resolver: tenants?.resolver,
    keyGuard: tenants?.guard,
    tokenGuard: new AuthFailureGuard(store, policy.prefix, ADMIN_AUTH_FAILURES, ADMIN_AUTH_RULE),
    store,
    health,
    clock,
    log: logAudit,
  };
}

/** Logs the issues once, in full, and keeps only codes and fields for clients (audit F15). */
function failure(issues: readonly ConfigIssue[]): ConfigFailure {
  const errors = issues.map((i) => `${i.code} at ${i.field}: ${i.message}`);
  logConfigError(errors);
  return { errors, fields: issues.map((i) => `${i.code} at ${i.field}`) };
}

/** ORIGIN_URL's problem, named without its value: it may hold a key. */
function originIssue(raw: string | undefined): URL | ConfigIssue {
  const origin = checkOrigin(raw);
  if (origin instanceof URL) return origin;
  return { code: origin.code, field: "ORIGIN_URL", message: origin.message };
}

/** The Upstash pair: both or neither, and the REST URL, not the redis:// one beside it. */
function checkRedis(url: string | undefined, token: string | undefined): ConfigIssue | undefined {
  const field = "UPSTASH_REDIS_REST_URL";
  if (Boolean(url) !== Boolean(token)) {
    return {
      code: "ERR_SLUICE_REDIS_CONFIG",
      field,
      message: "set both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or neither",
    };
  }
  if (!url) return undefined;
  const parsed = URL.parse(url);
  if (parsed?.protocol === "https:" || parsed?.protocol === "http:") return undefined;
  const got = parsed ? `a ${parsed.protocol} URL` : "not an absolute URL";
  return {
    code: "ERR_SLUICE_REDIS_URL",
    field,
    message: `expected the REST URL (https://…upstash.io), got ${got}; the redis:// and rediss:// URLs are for Redis clients`,
  };
}
