/** @module admin — the admin API under /__sluice/admin/: tenants, keys, overrides, lists, bans, usage, reset, audit. */
import { Hono } from "hono";
import { missing, notAllowed } from "../respond/problem.ts";
import { adminAuth } from "./auth.ts";
import type { AdminEnv } from "./context.ts";
import { banRoutes } from "./routes/bans.ts";
import { healthRoutes } from "./routes/health.ts";
import { keyRoutes } from "./routes/keys.ts";
import { listRoutes } from "./routes/lists.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { subjectRoutes } from "./routes/subjects.ts";
import { tenantRoutes } from "./routes/tenants.ts";

export { ADMIN_AUTH_FAILURES, adminTokenWeakness } from "./auth.ts";
export type { AdminDeps, AdminEnv } from "./context.ts";

export const ADMIN_BASE = "/__sluice/admin";

/** Shortest admin token accepted: 32 characters (≥ 192 bits as base64). */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/**
 * The admin API's routes, to mount with `app.route(ADMIN_BASE, adminApi)`
 * behind a middleware that sets `c.var.admin`. Every route needs the bearer
 * token; every change is stored with an audit entry in the same atomic write
 * and logged as a `sluice.audit` line. Errors are thrown as problems for the
 * host app's single `onError`.
 *
 * @example
 * app.use(`${ADMIN_BASE}/*`, (c, next) => { c.set("admin", deps); return next(); });
 * app.route(ADMIN_BASE, adminApi);
 */
export const adminApi = new Hono<AdminEnv>()
  .use(adminAuth)
  .route("/tenants", tenantRoutes)
  .route("/keys", keyRoutes)
  .route("/lists", listRoutes)
  .route("/bans", banRoutes)
  .route("/health", healthRoutes)
  .route("/metrics", metricsRoutes)
  .route("/", subjectRoutes)
  .all("*", (c) => {
    const path = c.req.path.startsWith(ADMIN_BASE)
      ? c.req.path.slice(ADMIN_BASE.length)
      : c.req.path;
    const allow = allowedMethods(path);
    if (allow.length > 0) throw notAllowed(c.req.method, allow);
    throw missing("This admin resource");
  });

/**
 * The methods the admin API takes at `path` (relative to its base), HEAD
 * with GET as Hono answers it; empty when no route has that shape.
 */
function allowedMethods(path: string): string[] {
  const segments = path.split("/");
  const allow = new Set<string>();
  for (const route of adminApi.routes) {
    if (route.method === "ALL") continue;
    const pattern = route.path.split("/");
    const fits =
      pattern.length === segments.length &&
      pattern.every((p, i) => p === segments[i] || (p.startsWith(":") && segments[i] !== ""));
    if (!fits) continue;
    allow.add(route.method);
    if (route.method === "GET") allow.add("HEAD");
  }
  return [...allow].sort();
}
