/**
 * @module @sluice-gateway/sluice/durable-object — limits and the tenant directory in
 * Durable Objects. Workers only (imports `cloudflare:workers`); export the classes from
 * your Worker's entry and bind them in wrangler.toml.
 */
export {
  DurableObjectDocumentStore,
  SluiceDirectory,
} from "./stores/durable-object/document-store.ts";
export { DurableObjectStore, SluiceStore } from "./stores/durable-object/limit-store.ts";
export { type Placement, placementOf } from "./stores/durable-object/placement.ts";
