/** @module gateway/app — the Worker's Hono app: reserved routes, then rate limit → forward. */
import { Hono, type MiddlewareHandler } from "hono";
import { ADMIN_BASE, createAdmin, MIN_ADMIN_TOKEN_LENGTH } from "../admin/index.ts";
import { unavailable as adminUnavailable } from "../admin/problems.ts";
import { apiKeyCarriers } from "../identity/index.ts";
import { clientIp } from "../identity/ip.ts";
import { type RateLimitVariables, rateLimit } from "../middleware/rate-limit/index.ts";
import { type DecisionSink, logConfigError } from "../observe/index.ts";
import { forward, OriginError } from "../proxy/index.ts";
import {
  badGateway,
  gatewayTimeout,
  notFound,
  policyInvalid,
  SluiceHttpError,
  toResponse,
} from "../respond/problem.ts";
import bundledPolicy from "../sluice.policy.json";
import type { SluiceEnv } from "./env.ts";
import { buildRuntime, type ConfigFailure, type Runtime } from "./runtime.ts";

/** The connecting peer's address, as Cloudflare's edge reports it. */
const PEER = { source: "cf-connecting-ip", trustedHops: 1, ipv6Subnet: 128 } as const;

/** Tenant header when the policy has no `tenants` section (still stripped from clients). */
const DEFAULT_TENANT_HEADER = "x-sluice-tenant";

export interface GatewayOptions {
  /** Policy used when `SLUICE_POLICY` is unset (default: src/sluice.policy.json). */
  bundledPolicy?: unknown;
  /** Caller clock in ms (tests inject one). */
  clock?: () => number;
  /** Decision log sink (default: JSON lines on the console). */
  sink?: DecisionSink;
}

type GatewayEnv = {
  Bindings: SluiceEnv;
  Variables: RateLimitVariables & { sluice: Prepared };
};

interface Prepared {
  runtime: Runtime;
  limiter: MiddlewareHandler<GatewayEnv>;
  /**
   * Absent when SLUICE_ADMIN_TOKEN is unset: the admin API does not exist.
   * `"token-too-short"`: set but guessable, so the admin API stays off.
   */
  admin: Hono | "token-too-short" | undefined;
}

/**
 * Creates the gateway. Configuration is read from env on first use and kept
 * for the isolate's life (env does not change without a new deployment).
 *
 * @example
 * export default createGateway();
 */
export function createGateway(options: GatewayOptions = {}): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const prepared = new Map<string, Promise<Prepared | ConfigFailure>>();
  const bundled = options.bundledPolicy ?? bundledPolicy;

  // The runtime passes the same env object to every request of an isolate:
  // remembering it spares re-serialising the whole policy per request.
  const byEnv = new WeakMap<SluiceEnv, Promise<Prepared | ConfigFailure>>();

  const prepare = (env: SluiceEnv): Promise<Prepared | ConfigFailure> => {
    const known = byEnv.get(env);
    if (known) return known;
    const cacheKey = JSON.stringify([
      env.SLUICE_POLICY,
      env.ORIGIN_URL,
      env.UPSTASH_REDIS_REST_URL,
      env.UPSTASH_REDIS_REST_TOKEN,
      env.SLUICE_ADMIN_TOKEN,
    ]);
    let entry = prepared.get(cacheKey);
    if (!entry) {
      entry = buildRuntime(env, bundled).then((runtime) =>
        "errors" in runtime
          ? runtime
          : {
              runtime,
              limiter: rateLimit<GatewayEnv>({
                policy: runtime.loaded,
                store: runtime.store,
                ...(runtime.tenants ? { tenants: runtime.tenants } : {}),
                ...(options.clock ? { clock: options.clock } : {}),
                ...(options.sink ? { sink: options.sink } : {}),
              }),
              admin: !env.SLUICE_ADMIN_TOKEN
                ? undefined
                : env.SLUICE_ADMIN_TOKEN.length < MIN_ADMIN_TOKEN_LENGTH
                  ? adminTokenTooShort()
                  : createAdmin({
                      token: env.SLUICE_ADMIN_TOKEN,
                      policy: runtime.loaded.policy,
                      directory: runtime.directory,
                      resolver: runtime.tenants?.resolver,
                      keyGuard: runtime.tenants?.guard,
                      store: runtime.store,
                      clock: options.clock ?? Date.now,
                    }),
            },
      );
      prepared.set(cacheKey, entry);
    }
    byEnv.set(env, entry);
    return entry;
  };

  app.use(async function configure(c, next) {
    const ready = await prepare(c.env);
    if ("errors" in ready) throw new SluiceHttpError(policyInvalid(ready.errors));
    c.set("sluice", ready);
    await next();
  });

  app.get("/__sluice/health", async (c) => {
    const { loaded, store } = c.get("sluice").runtime;
    const started = Date.now();
    let error: string | undefined;
    try {
      await store.ping();
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const body = {
      status: error ? "degraded" : "ok",
      policy: { version: loaded.policy.version, hash: loaded.hash },
      store: {
        kind: store.kind,
        reachable: !error,
        latencyMs: Date.now() - started,
        ...(error ? { error } : {}),
      },
    };
    return c.json(body, error ? 503 : 200, { "cache-control": "no-store" });
  });

  const toAdmin = (c: { get(key: "sluice"): Prepared; req: { raw: Request } }) => {
    const admin = c.get("sluice").admin;
    if (!admin) throw new SluiceHttpError(notFound());
    if (admin === "token-too-short") {
      // Say why to the operator, but not how long the token is.
      throw adminUnavailable(
        `The admin API is off: SLUICE_ADMIN_TOKEN is shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters.`,
      );
    }
    return admin.fetch(c.req.raw);
  };
  app.all(`${ADMIN_BASE}/*`, toAdmin);
  app.all(ADMIN_BASE, toAdmin);

  app.all("/__sluice/*", () => {
    throw new SluiceHttpError(notFound());
  });

  app.use(function limit(c, next) {
    return c.get("sluice").limiter(c, next);
  });

  app.all("*", async (c) => {
    const { origin, loaded } = c.get("sluice").runtime;
    const { identity, tenants } = loaded.policy;
    const tenantHeader = tenants?.header ?? DEFAULT_TENANT_HEADER;
    const seen = c.get("rateLimit")?.identity;
    const trustsChain = identity.ip.source === "x-forwarded-for";
    const tenant = seen?.tenant;
    return forward(c.req.raw, {
      origin,
      timeoutMs: loaded.policy.origin.timeoutMs,
      // Each hop appends the address it received the request from: with a
      // trusted chain that is the proxy in front of us, not the client again.
      forwardedFor: trustsChain
        ? (clientIp(c.req.raw.headers, PEER) ?? "")
        : // Matched routes already worked the address out; unmatched ones parse it here.
          seen
          ? seen.ip
          : (clientIp(c.req.raw.headers, identity.ip) ?? ""),
      appendForwardedFor: trustsChain,
      // The tenant header is ours alone: a client-sent copy never reaches the origin.
      // With issued keys the key is Sluice's credential, not the origin's: the
      // origin learns the tenant id and never sees the secret.
      dropHeaders: tenants
        ? [tenantHeader, ...apiKeyCarriers(c.req.raw.headers, identity.apiKey, tenants.keyPrefix)]
        : [tenantHeader],
      ...(tenant ? { setHeaders: { [tenantHeader]: tenant } } : {}),
    });
  });

  app.onError((err) => {
    if (err instanceof OriginError) {
      return err.status === 504 ? gatewayTimeout(err.message) : badGateway(err.message);
    }
    return toResponse(err);
  });

  return app;
}

/** A short admin token leaves the admin API off; the log says so once per isolate. */
function adminTokenTooShort(): "token-too-short" {
  logConfigError([
    `ERR_SLUICE_ADMIN_TOKEN: SLUICE_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (try: openssl rand -base64 32); the admin API is off until it is`,
  ]);
  return "token-too-short";
}
