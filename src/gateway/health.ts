/** @module gateway/health — `GET /__sluice/health`: the policy in force and whether the store answers. */
import { Hono } from "hono";
import type { GatewayEnv } from "./env.ts";

/** Mounted at `/__sluice/health`; 200 when the store answers, else 503. */
export const healthRoute = new Hono<GatewayEnv>().get("/", async (c) => {
  const { loaded, store } = c.var.runtime;
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
