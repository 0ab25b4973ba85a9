/**
 * @module @sluice-gateway/sluice — the runtime-neutral core (Workers, Node, Bun, Deno):
 * the rate-limit middleware, the policy, the memory store and the tenant services.
 * Backends that need more live in subpaths: `/redis` (Upstash over HTTP),
 * `/durable-object` (Workers), `/gateway` (the whole Worker app).
 */
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
export { MemoryStore } from "./stores/memory/limit-store.ts";
export type { TenantServices } from "./tenants/authenticate.ts";
export { Directory } from "./tenants/directory.ts";
export { AuthFailureGuard } from "./tenants/guard.ts";
export { KeyResolver } from "./tenants/resolver.ts";
