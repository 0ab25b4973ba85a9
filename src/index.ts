/** @module index — wires env to the gateway and exports the Durable Object classes. */
import { createGateway } from "./gateway/app.ts";

export { SluiceStore } from "./limiter/durable-object-store.ts";
export { SluiceDirectory } from "./tenants/durable-object-docs.ts";

export default createGateway();
