/** @module gateway/runtime — env → validated policy, one backend, origin and admin, built once per isolate. */
import type { MiddlewareHandler } from "hono";
import { ADMIN_AUTH_FAILURES, type AdminDeps, MIN_ADMIN_TOKEN_LENGTH } from "../admin/index.ts";
import { BlockedCache } from "../limiter/blocked-cache.ts";
import type { LimitStore } from "../limiter/types.ts";
import { rateLimit } from "../middleware/rate-limit/index.ts";
import {
  type DecisionSink,
  logAudit,
  logConfigError,
  logConfigWarnings,
  logListsUnavailable,
} from "../observe/index.ts";
import { formatIssues, loadPolicy } from "../policy/load.ts";
import type { LoadedPolicy, Policy } from "../policy/types.ts";
import { ListStore } from "../protect/list-store.ts";
import { Screen } from "../protect/screen.ts";
import type { Backend } from "../stores/backend.ts";
import { durableObjectBackend } from "../stores/durable-object/index.ts";
import { redisBackend } from "../stores/redis/index.ts";
import type { TenantServices } from "../tenants/authenticate.ts";
import { Directory } from "../tenants/directory.ts";
import { ADMIN_AUTH_RULE, AuthFailureGuard } from "../tenants/guard.ts";
import { KeyResolver } from "../tenants/resolver.ts";
import type { GatewayEnv, SluiceEnv } from "./env.ts";

/** Everything a request needs, derived from env once per isolate. */
export interface Runtime {
  loaded: LoadedPolicy;
  /** The backend's limit store behind this isolate's blocked-subject cache. */
  store: LimitStore;
  origin: URL;
  /** Present when the policy has `tenants` (issued keys). */
  tenants: TenantServices | undefined;
  /** The rate-limit middleware for this policy and store. */
  limit: MiddlewareHandler<GatewayEnv>;
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
  if (errors.length > 0 || !result.ok || typeof origin === "string") {
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
  // Runtime list entries live beside the directory; every isolate refreshes them in the background.
  const lists = new ListStore(directory, Object.keys(policy.lists));
  const screen = new Screen(policy.lists, lists, {
    firstLoadMs: timeoutMs,
    onError: logListsUnavailable,
  });
  return {
    loaded,
    store,
    origin,
    tenants,
    limit: rateLimit<GatewayEnv>({
      policy: loaded,
      store,
      screen,
      ...(tenants ? { tenants } : {}),
      clock: options.clock,
      ...(options.sink ? { sink: options.sink } : {}),
    }),
    admin: adminDeps(
      env.SLUICE_ADMIN_TOKEN,
      { policy, store, directory, tenants, lists: { store: lists, screen } },
      options.clock,
    ),
  };
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
  const { policy, store, directory, tenants, lists } = parts;
  return {
    token,
    policy,
    directory,
    lists,
    resolver: tenants?.resolver,
    keyGuard: tenants?.guard,
    tokenGuard: new AuthFailureGuard(store, policy.prefix, ADMIN_AUTH_FAILURES, ADMIN_AUTH_RULE),
    store,
    clock,
    log: logAudit,
  };
}

function parseOrigin(raw: string | undefined): URL | string {
  if (!raw) return "ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not set";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not an absolute URL: ${JSON.stringify(raw)}`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `ERR_SLUICE_ORIGIN_URL: ORIGIN_URL must be http or https, got ${url.protocol}`;
  }
  if (url.search || url.hash) {
    return "ERR_SLUICE_ORIGIN_URL: ORIGIN_URL must not carry a query or fragment";
  }
  return url;
}
