/** @module @sluice-gateway/sluice/gateway — the whole gateway as a Hono app (Workers only), as `src/index.ts` deploys it. */
export { createGateway, type GatewayOptions } from "./gateway/app.ts";
export type { SluiceEnv } from "./gateway/env.ts";
