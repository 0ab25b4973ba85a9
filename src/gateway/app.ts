/** @module gateway/app — the Worker's Hono app: configure → health → admin → rate limit → forward, under one onError. */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { ADMIN_BASE, type AdminDeps, adminApi, MIN_ADMIN_TOKEN_LENGTH } from "../admin/index.ts";
import { DASHBOARD_BASE, dashboardRoutes } from "../dashboard/index.ts";
import { canonicalOf } from "../identity/canonical.ts";
import { StoreError } from "../limiter/types.ts";
import type { DecisionSink } from "../observe/index.ts";
import { OriginError } from "../proxy/index.ts";
import {
  badGateway,
  badPath,
  conflict,
  gatewayTimeout,
  notFound,
  policyInvalid,
  toResponse,
  unavailable,
} from "../respond/problem.ts";
import bundledPolicy from "../sluice.policy.json";
import { DirectoryConflict } from "../tenants/directory.ts";
import type { GatewayEnv } from "./env.ts";
import { forwardToOrigin } from "./forward.ts";
import { healthRoute } from "./health.ts";
import { RuntimeCache } from "./runtime.ts";

export interface GatewayOptions {
  /** Policy used when `SLUICE_POLICY` is unset (default: src/sluice.policy.json). */
  bundledPolicy?: unknown;
  /** Caller clock in ms (tests inject one). */
  clock?: () => number;
  /** Decision log sink (default: JSON lines on the console). */
  sink?: DecisionSink;
  /** How held requests wait (tests inject one that does not sleep); see `RateLimitOptions.hold`. */
  hold?: (ms: number, signal: AbortSignal) => Promise<boolean>;
}

/**
 * Creates the gateway. Configuration is read from env on first use and kept
 * for the isolate's life (env does not change without a new deployment).
 *
 * @see README.md#runtime-contract
 * @example
 * export default createGateway();
 */
export function createGateway(options: GatewayOptions = {}): Hono<GatewayEnv> {
  const runtimes = new RuntimeCache({
    bundledPolicy: options.bundledPolicy ?? bundledPolicy,
    clock: options.clock ?? Date.now,
    sink: options.sink,
    hold: options.hold,
  });
  const app: Hono<GatewayEnv> = new Hono<GatewayEnv>()
    .use(canonicalise)
    .use(async function configure(c, next) {
      const runtime = await runtimes.get(c.env);
      if ("errors" in runtime) throw policyInvalid(runtime.fields);
      c.set("runtime", runtime);
      await next();
    })
    .route("/__sluice/health", healthRoute)
    .use(ADMIN_BASE, adminGate)
    .use(`${ADMIN_BASE}/*`, adminGate)
    .route(ADMIN_BASE, adminApi)
    .use(DASHBOARD_BASE, adminGate)
    .use(`${DASHBOARD_BASE}/*`, adminGate)
    .route(
      DASHBOARD_BASE,
      dashboardRoutes((c, path) => adminCall(app, c, path)),
    )
    .all("/__sluice/*", () => {
      throw notFound();
    })
    .use(function observe(c, next) {
      return c.var.runtime.observer.step(c, next);
    })
    .use(function limit(c, next) {
      return c.var.runtime.limit(c, next);
    })
    .all("*", forwardToOrigin)
    .onError(answerError);
  return app;
}

/** One admin API call from inside the gateway (the dashboard's bans and lists), with the admin token. */
async function adminCall(
  app: Hono<GatewayEnv>,
  c: Context,
  path: string,
): Promise<{ status: number; body?: unknown }> {
  const admin = c.get("admin") as AdminDeps;
  const req = new Request(new URL(`${ADMIN_BASE}${path}`, c.req.url), {
    headers: { authorization: `Bearer ${admin.token}`, "sluice-actor": "dashboard" },
  });
  const res = await app.fetch(req, c.env, c.executionCtx);
  const body = res.ok ? await res.json().catch(() => undefined) : undefined;
  if (!res.ok) await res.body?.cancel();
  return { status: res.status, ...(body === undefined ? {} : { body }) };
}

/**
 * The first stage (DESIGN "The request path"): a path origins could read in
 * more than one way is refused here, and the reserved prefix in any spelling
 * but its own is answered here, never forwarded.
 *
 * @throws {SluiceHttpError} 400 for a refused path, 404 for a respelled reserved one.
 */
const canonicalise: MiddlewareHandler<GatewayEnv> = async function canonicalise(c, next) {
  const path = canonicalOf(c.req.raw);
  if ("refused" in path) throw badPath(path.refused);
  if (path.segments[0] === "__sluice") {
    const spelled = new URL(c.req.url).pathname;
    const own = path.path === "/__sluice" || path.path.startsWith("/__sluice/");
    if (spelled !== path.path || !own) throw notFound();
  }
  await next();
};

/** Lets admin requests through only when the admin API is on. */
const adminGate: MiddlewareHandler<GatewayEnv> = async function adminGate(c, next) {
  const admin = c.var.runtime.admin;
  if (admin === "off") throw notFound();
  if (admin === "token-too-short") {
    // Say why to the operator, but not how long the token is.
    throw unavailable(
      `The admin API is off: SLUICE_ADMIN_TOKEN is shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters.`,
    );
  }
  if (admin === "token-weak") {
    // The log says what is wrong with it; anyone can read this answer.
    throw unavailable("The admin API is off: SLUICE_ADMIN_TOKEN is too easy to guess.");
  }
  c.set("admin", admin);
  await next();
};

/** The one error handler: every problem is an exception that carries its response. */
function answerError(err: Error, c: Context<GatewayEnv>): Response {
  if (err instanceof OriginError) {
    return (
      err.status === 504 ? gatewayTimeout(err.message) : badGateway(err.message)
    ).getResponse();
  }
  if (err instanceof DirectoryConflict) {
    return conflict(
      "The resource changed by another request meanwhile; read it again and retry.",
    ).getResponse();
  }
  if (err instanceof StoreError) {
    // A write's own store call fails inside commit(); one failing here failed before it.
    const write = c.req.path.startsWith(ADMIN_BASE) && !["GET", "HEAD"].includes(c.req.method);
    const detail = `The store did not answer: ${err.reason}.`;
    return unavailable(detail, write ? { mayHaveApplied: false } : undefined).getResponse();
  }
  return toResponse(err);
}
