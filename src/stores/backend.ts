/** @module stores/backend — one backend holds the limits, the tenant directory's documents and the metrics' sums. */
import type { LimitStore } from "../limiter/types.ts";
import type { MetricsStore } from "../observe/aggregate.ts";
import type { DocumentStore } from "../tenants/document-store.ts";
import type { Placement } from "./durable-object/placement.ts";

/**
 * What the runtime needs from a backend; it picks one per isolate, so limits
 * and the directory never live in two different stores.
 */
export interface Backend {
  limits: LimitStore;
  documents: DocumentStore;
  /** Where isolates add up their metrics, under the policy's `prefix`. */
  metrics(prefix: string): MetricsStore;
}

/** What every backend is built with. */
export interface BackendOptions {
  /** Time budget of one store call. */
  timeoutMs: number;
  /** Clock for round trips and a failing store's skip window. */
  now: () => number;
  /** Durable Object store: objects each rule's subjects are spread over. */
  shards: number;
  /** Durable Object store: rules that share keys, in one object (see `placementOf`). */
  placement?: Placement;
}
