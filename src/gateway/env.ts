/** @module gateway/env — the runtime contract's environment (see README "Runtime contract") and the gateway's Hono env. */
import type { AdminDeps } from "../admin/index.ts";
import type { ObserveEnv } from "../observe/setup.ts";
import type { Runtime } from "./runtime.ts";

/**
 * `Env` from `wrangler types`, plus the optional secrets it cannot see, and
 * the observability variables (README "Observability", all optional).
 */
export interface SluiceEnv extends Env, ObserveEnv {
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  SLUICE_POLICY?: string;
  SLUICE_ADMIN_TOKEN?: string;
  /** A candidate policy for a share of subjects (README "Policy rollout"). */
  SLUICE_POLICY_CANARY?: string;
  SLUICE_POLICY_CANARY_PERCENT?: string;
}

/** The gateway app's Hono environment. */
export type GatewayEnv = {
  Bindings: SluiceEnv;
  Variables: { runtime: Runtime; admin: AdminDeps };
};
