/** @module stores/redis — the Redis backend (Upstash REST): limits, directory documents and metrics. */
import type { Backend, BackendOptions } from "../backend.ts";
import { createUpstashClient } from "./client.ts";
import { RedisDocumentStore } from "./document-store.ts";
import { RedisStore } from "./limit-store.ts";
import { RedisMetricsStore } from "./metrics-store.ts";

/** Time budget of one metrics flush or read (it never holds up a decision). */
const METRICS_TIMEOUT_MS = 1_000;

/**
 * Both stores on one Upstash REST endpoint, each call within `timeoutMs`;
 * `now` times round trips and the skip window of a failing store.
 *
 * @example
 * const backend = redisBackend(env.UPSTASH_REDIS_REST_URL, env.UPSTASH_REDIS_REST_TOKEN, { timeoutMs: 250, now: Date.now, shards: 1 });
 */
export function redisBackend(url: string, token: string, options: BackendOptions): Backend {
  const { timeoutMs, now } = options;
  return {
    limits: new RedisStore(createUpstashClient(url, token, timeoutMs), {
      timeoutMs,
      groupCommit: { now },
    }),
    documents: new RedisDocumentStore(createUpstashClient(url, token, timeoutMs, { raw: true }), {
      timeoutMs,
    }),
    metrics: (prefix) =>
      new RedisMetricsStore(
        createUpstashClient(url, token, METRICS_TIMEOUT_MS, { raw: true }),
        prefix,
      ),
  };
}
