/** @module sluice — the public API: the rate-limit middleware, the policy, the stores and the gateway. */
export { createGateway, type GatewayOptions } from "./gateway/app.ts";
export { BlockedCache } from "./limiter/blocked-cache.ts";
export type {
  DecideRequest,
  Decision,
  LimitCheck,
  LimitState,
  LimitStore,
} from "./limiter/types.ts";
export { StoreError } from "./limiter/types.ts";
export {
  RateLimitConfigError,
  type RateLimitInfo,
  type RateLimitOptions,
  type RateLimitVariables,
  rateLimit,
} from "./middleware/rate-limit/index.ts";
export type { DecisionEvent, DecisionSink } from "./observe/index.ts";
export { formatIssues, loadPolicy } from "./policy/load.ts";
export type { LoadedPolicy, Policy } from "./policy/types.ts";
export { type ListEntry, ListStore } from "./protect/list-store.ts";
export { Screen } from "./protect/screen.ts";
export {
  DurableObjectDocumentStore,
  SluiceDirectory,
} from "./stores/durable-object/document-store.ts";
export { DurableObjectStore, SluiceStore } from "./stores/durable-object/limit-store.ts";
export { MemoryStore } from "./stores/memory/limit-store.ts";
export { createUpstashClient } from "./stores/redis/client.ts";
export { RedisDocumentStore } from "./stores/redis/document-store.ts";
export { type RedisLike, RedisStore, type RedisStoreOptions } from "./stores/redis/limit-store.ts";
export type { TenantServices } from "./tenants/authenticate.ts";
export { Directory } from "./tenants/directory.ts";
export { AuthFailureGuard } from "./tenants/guard.ts";
export { KeyResolver } from "./tenants/resolver.ts";
