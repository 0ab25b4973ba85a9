/** @module stores/redis — the Redis backend (Upstash REST): limits and directory documents. */
import type { Backend } from "../backend.ts";
import { createUpstashClient } from "./client.ts";
import { RedisDocumentStore } from "./document-store.ts";
import { RedisStore } from "./limit-store.ts";

/**
 * Both stores on one Upstash REST endpoint, each call within `timeoutMs`.
 *
 * @example
 * const backend = redisBackend(env.UPSTASH_REDIS_REST_URL, env.UPSTASH_REDIS_REST_TOKEN, 250);
 */
export function redisBackend(url: string, token: string, timeoutMs: number): Backend {
  return {
    limits: new RedisStore(createUpstashClient(url, token, timeoutMs), { timeoutMs }),
    documents: new RedisDocumentStore(createUpstashClient(url, token, timeoutMs, { raw: true }), {
      timeoutMs,
    }),
  };
}
