/** @module examples/hono-app/app — an ordinary Hono app that uses Sluice's middleware on some routes. */
import { Hono } from "hono";
import { type LimitStore, type RateLimitVariables, rateLimit } from "@sluice-gateway/sluice";

/**
 * Builds the app around a store (Redis or Durable Object; the caller picks).
 *
 * @example
 * const app = createApp(new RedisStore(createUpstashClient(url, token, 250), { timeoutMs: 250 }));
 */
export function createApp(store: LimitStore, clock?: () => number) {
  const app = new Hono<{ Variables: RateLimitVariables }>();

  app.use(
    "/api/*",
    rateLimit({
      store,
      ...(clock ? { clock } : {}),
      sink: () => {},
      policy: {
        version: "example-1",
        rules: [
          {
            name: "hello",
            match: { path: "/api/hello" },
            limits: [{ rate: "3/min", by: "ip" }],
          },
        ],
      },
    }),
  );

  app.get("/api/hello", (c) => {
    const limit = c.get("rateLimit")?.decision?.limits[0];
    return c.json({ message: "hello", remaining: limit?.remaining, resetMs: limit?.resetMs });
  });
  app.get("/api/free", (c) => c.json({ limited: c.get("rateLimit") !== undefined }));
  app.get("/", (c) => c.text("not limited"));
  return app;
}
