/** @module @sluice-gateway/sluice/redis — limits and the tenant directory in Redis, over Upstash's REST API (`@upstash/redis`). */
export { createUpstashClient } from "./stores/redis/client.ts";
export { RedisDocumentStore } from "./stores/redis/document-store.ts";
export { type RedisLike, RedisStore, type RedisStoreOptions } from "./stores/redis/limit-store.ts";
