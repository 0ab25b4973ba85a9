/** @module gateway/env — the runtime contract's environment (see README "Runtime contract") and the gateway's Hono env. */
import type { AdminDeps } from "../admin/index.ts";
import type { Runtime } from "./runtime.ts";

/** `Env` from `wrangler types`, plus the optional secrets it cannot see. */
export interface SluiceEnv extends Env {
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  SLUICE_POLICY?: string;
  SLUICE_ADMIN_TOKEN?: string;
}

/** The gateway app's Hono environment. */
export type GatewayEnv = {
  Bindings: SluiceEnv;
  Variables: { runtime: Runtime; admin: AdminDeps };
};
