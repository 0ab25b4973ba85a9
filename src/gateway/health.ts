/** @module gateway/health — `GET /__sluice/health`: the policy in force and whether the store answers; nothing more. */
import { Hono } from "hono";
import type { GatewayEnv } from "./env.ts";

/**
 * Mounted at `/__sluice/health`; 200 when the store answers, else 503. Open
 * to anyone, so it says only whether the store is reachable: the store's own
 * error text (hosts, credentials) is for `GET /__sluice/admin/health`, and
 * the probe behind it runs at most once a second per isolate.
 */
export const healthRoute = new Hono<GatewayEnv>().get("/", async (c) => {
  const { loaded, health } = c.var.runtime;
  const store = await health.check();
  const body = {
    status: store.reachable ? "ok" : "degraded",
    policy: { version: loaded.policy.version, hash: loaded.hash },
    store: { kind: store.kind, reachable: store.reachable, latencyMs: store.latencyMs },
  };
  return c.json(body, store.reachable ? 200 : 503, { "cache-control": "no-store" });
});
