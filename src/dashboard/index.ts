/** @module dashboard — `/__sluice/dashboard`: sign in with the admin token, then a live view of the metrics, bans and lists. */
import { type Context, Hono } from "hono";
import { adminTokenMatches } from "../admin/auth.ts";
import { type AdminEnv, auditEntry } from "../admin/context.ts";
import { ipKey } from "../identity/ip.ts";
import { dashboardPage, signInPage } from "./page.ts";
import {
  SESSION_MS,
  SESSION_PATH,
  sessionCookie,
  sessionValid,
  sessionValue,
  setSessionCookie,
} from "./session.ts";
import { summarize } from "./summary.ts";

export const DASHBOARD_BASE = SESSION_PATH;

/**
 * Calls an admin API route (a path under the admin base) with the admin
 * token, inside the gateway: bans and lists are shown when their routes
 * answer, and said to be unavailable when they do not exist.
 */
export type AdminCall = (c: Context, path: string) => Promise<{ status: number; body?: unknown }>;

/**
 * The dashboard's routes, behind the same gate as the admin API (they need
 * `c.var.admin`). The token is typed into a form and POSTed; the browser then
 * holds only a signed session cookie. `/data` answers the page's polls.
 *
 * @example
 * app.route(DASHBOARD_BASE, dashboardRoutes((c, path) => app.fetch(…)));
 */
export function dashboardRoutes(callAdmin: AdminCall) {
  return new Hono<AdminEnv>()
    .get("/", async (c) => {
      const signedIn = await sessionValid(
        c.var.admin.token,
        sessionCookie(c.req.header("cookie")),
        Date.now(),
      );
      c.header("cache-control", "no-store");
      return c.html(signedIn ? dashboardPage() : signInPage(""), 200, SECURITY_HEADERS);
    })
    .post("/session", async (c) => {
      const admin = c.var.admin;
      const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
      const token = typeof form.token === "string" ? form.token : "";
      const entry = auditEntry(c, "auth.failed", "dashboard", { path: c.req.path });
      const address = ipKey(entry.ip, admin.policy.identity.ip.ipv6Subnet) ?? "";
      const nowMs = admin.clock();
      if (admin.tokenGuard.lockedForMs(address, nowMs) > 0) {
        return c.html(signInPage("Too many wrong tokens; try again later."), 429, SECURITY_HEADERS);
      }
      if (!(await adminTokenMatches(`Bearer ${token}`, admin.token))) {
        admin.log({ ...entry, actor: "unauthenticated" });
        await admin.tokenGuard.fail(address, nowMs).catch(() => 0);
        return c.html(signInPage("That token is not valid."), 401, SECURITY_HEADERS);
      }
      const exp = Date.now() + SESSION_MS;
      c.header(
        "set-cookie",
        setSessionCookie(await sessionValue(admin.token, exp), SESSION_MS / 1000),
      );
      return c.redirect(DASHBOARD_BASE, 303);
    })
    .post("/logout", (c) => {
      c.header("set-cookie", setSessionCookie("", 0));
      return c.redirect(DASHBOARD_BASE, 303);
    })
    .get("/data", async (c) => {
      const admin = c.var.admin;
      if (!(await sessionValid(admin.token, sessionCookie(c.req.header("cookie")), Date.now()))) {
        return c.json({ error: "sign in again" }, 401);
      }
      if (!admin.metrics) return c.json({ error: "metrics are off (SLUICE_METRICS_OFF)" }, 404);
      const [agg, bans, lists] = await Promise.all([
        admin.metrics.aggregate().catch(() => undefined),
        callAdmin(c, "/bans"),
        callAdmin(c, "/lists"),
      ]);
      if (!agg) return c.json({ error: "the metrics store did not answer" }, 503);
      const at = Date.now();
      return c.json({ at, ...summarize(agg, admin.clock()), bans, lists }, 200, {
        "cache-control": "no-store",
      });
    });
}

/** The pages load nothing from elsewhere and run only their own inline script. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};
