/** @module examples/hono-app — the example as a Worker: Redis when configured, else a Durable Object. */
import type { LimitStore } from "@sluice-gateway/sluice";
import { DurableObjectStore, type SluiceStore } from "@sluice-gateway/sluice/durable-object";
import { createUpstashClient, RedisStore } from "@sluice-gateway/sluice/redis";
import { createApp } from "./app.ts";

export { SluiceStore } from "@sluice-gateway/sluice/durable-object";

interface ExampleEnv {
  SLUICE_STORE: DurableObjectNamespace<SluiceStore>;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
}

let app: ReturnType<typeof createApp> | undefined;

export default {
  fetch(request: Request, env: ExampleEnv, ctx: ExecutionContext) {
    if (!app) {
      const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = env;
      const store: LimitStore =
        url && token
          ? new RedisStore(createUpstashClient(url, token, 250), { timeoutMs: 250 })
          : new DurableObjectStore(env.SLUICE_STORE, { timeoutMs: 250 });
      app = createApp(store);
    }
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<ExampleEnv>;
