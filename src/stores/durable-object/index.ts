/** @module stores/durable-object — the embedded backend: limits, directory documents and metrics in Durable Objects. */
import type { Backend, BackendOptions } from "../backend.ts";
import { MemoryMetricsStore } from "../memory/metrics-store.ts";
import { DurableObjectDocumentStore, type SluiceDirectory } from "./document-store.ts";
import { DurableObjectStore, type SluiceStore } from "./limit-store.ts";
import { DurableObjectMetricsStore, type SluiceMetrics } from "./metrics-object.ts";

/** The namespaces wrangler.toml binds; without `SLUICE_METRICS` each isolate counts alone. */
export interface DurableObjectBindings {
  SLUICE_STORE: DurableObjectNamespace<SluiceStore>;
  SLUICE_DIRECTORY: DurableObjectNamespace<SluiceDirectory>;
  SLUICE_METRICS?: DurableObjectNamespace<SluiceMetrics>;
}

/**
 * Both stores on the Worker's own Durable Objects, each call within `timeoutMs`.
 *
 * @example
 * const backend = durableObjectBackend(env, { timeoutMs: 250, now: Date.now, shards: 1 });
 */
export function durableObjectBackend(env: DurableObjectBindings, options: BackendOptions): Backend {
  const { timeoutMs, now, shards, placement } = options;
  const where = { shards, ...(placement ? { placement } : {}) };
  return {
    limits: new DurableObjectStore(env.SLUICE_STORE, { timeoutMs, ...where, groupCommit: { now } }),
    documents: new DurableObjectDocumentStore(env.SLUICE_DIRECTORY, { timeoutMs }),
    metrics: (prefix) =>
      env.SLUICE_METRICS
        ? new DurableObjectMetricsStore(env.SLUICE_METRICS, prefix)
        : new MemoryMetricsStore(),
  };
}
