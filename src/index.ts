/** @module index — wires env to the gateway and exports the Durable Object classes. */
import { createGateway } from "./gateway/app.ts";

export { SluiceDirectory } from "./stores/durable-object/document-store.ts";
export { SluiceStore } from "./stores/durable-object/limit-store.ts";
export { SluiceMetrics } from "./stores/durable-object/metrics-object.ts";

export default createGateway();
