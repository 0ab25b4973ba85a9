/** @module stores/durable-object — the embedded backend: limits and directory documents in Durable Objects. */
import type { Backend, BackendOptions } from "../backend.ts";
import { DurableObjectDocumentStore, type SluiceDirectory } from "./document-store.ts";
import { DurableObjectStore, type SluiceStore } from "./limit-store.ts";

/** The two namespaces wrangler.toml binds. */
export interface DurableObjectBindings {
  SLUICE_STORE: DurableObjectNamespace<SluiceStore>;
  SLUICE_DIRECTORY: DurableObjectNamespace<SluiceDirectory>;
}

/**
 * Both stores on the Worker's own Durable Objects, each call within `timeoutMs`.
 *
 * @example
 * const backend = durableObjectBackend(env, { timeoutMs: 250, now: Date.now, shards: 1 });
 */
export function durableObjectBackend(env: DurableObjectBindings, options: BackendOptions): Backend {
  const { timeoutMs, now, shards } = options;
  return {
    limits: new DurableObjectStore(env.SLUICE_STORE, { timeoutMs, shards, groupCommit: { now } }),
    documents: new DurableObjectDocumentStore(env.SLUICE_DIRECTORY, { timeoutMs }),
  };
}
