/** @module gateway/env — the runtime contract's environment (see README "Runtime contract") and the gateway's Hono env. */
import type { AdminDeps } from "../admin/index.ts";
import type { Runtime } from "./runtime.ts";

/** `Env` from `wrangler types`, plus the optional secrets it cannot see. */
export interface SluiceEnv extends Env {
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  SLUICE_POLICY?: string;
  SLUICE_ADMIN_TOKEN?: string;
  /** Observability (README "Observability"): all optional. */
  SLUICE_METRICS_OFF?: string;
  SLUICE_OTLP_ENDPOINT?: string;
  SLUICE_OTLP_HEADERS?: string;
  SLUICE_ANALYTICS?: AnalyticsEngineDataset;
  SLUICE_ANALYTICS_SAMPLE_RATE?: string;
  SLUICE_ALERT_WEBHOOK_URL?: string;
  SLUICE_ALERT_WEBHOOK_SECRET?: string;
  /** A candidate policy for a share of subjects (README "Policy rollout"). */
  SLUICE_POLICY_CANARY?: string;
  SLUICE_POLICY_CANARY_PERCENT?: string;
}

/** The gateway app's Hono environment. */
export type GatewayEnv = {
  Bindings: SluiceEnv;
  Variables: { runtime: Runtime; admin: AdminDeps };
};
