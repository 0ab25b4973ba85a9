/** @module index — wires env to the gateway and exports the Durable Object class. */
import { createGateway } from "./gateway/app.ts";

export { SluiceStore } from "./limiter/durable-object-store.ts";

export default createGateway();
