import { env } from "cloudflare:workers";
import { RateLimitConfigError, rateLimit } from "@sluice-gateway/sluice";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createApp } from "../../examples/hono-app/src/app.ts";
import { FakeClock, limitStore, STORES, type StoreKind, uniquePrefix } from "./helpers.ts";

const store = (kind: StoreKind) => limitStore(kind);

describe.each(STORES)("the rateLimit() middleware in a separate Hono app, %s store", (kind) => {
  it("limits its routes and exposes the decision as c.get('rateLimit')", async () => {
    const clock = new FakeClock();
    const app = createApp(store(kind), () => clock.now);
    const get = (path: string) =>
      app.request(path, { headers: { "cf-connecting-ip": "198.51.100.20" } });

    const bodies: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await get("/api/hello");
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-policy")).toBe('"ip-1m";q=3;w=60');
      bodies.push(await res.json());
    }
    expect(bodies).toEqual([
      { message: "hello", remaining: 2, resetMs: 20_000 },
      { message: "hello", remaining: 1, resetMs: 40_000 },
      { message: "hello", remaining: 0, resetMs: 60_000 },
    ]);
    const denied = await get("/api/hello");
    expect(denied.status).toBe(429);
    expect(denied.headers.get("retry-after")).toBe("20");
    expect(((await denied.json()) as { rule: string }).rule).toBe("hello");

    // Unmatched routes under the middleware pass through without a decision.
    expect(await (await get("/api/free")).json()).toEqual({ limited: false });
    expect(await (await get("/")).text()).toBe("not limited");
  });
});

describe("rateLimit() options", () => {
  it("throws a coded error for an invalid policy when the middleware is created", () => {
    expect(() =>
      rateLimit({
        store: store("durable-object"),
        policy: { rules: [{ name: "x", match: { path: "/x" }, limits: [{ rate: "ten/s" }] }] },
      }),
    ).toThrow(RateLimitConfigError);
    expect(() =>
      rateLimit({
        store: store("durable-object"),
        policy: { rules: [{ name: "x", match: { path: "/x" }, limits: [{ rate: "ten/s" }] }] },
      }),
    ).toThrow(/ERR_SLUICE_RATE_\w+ at rules\[0\]\.limits\[0\]\.rate/);
  });

  it("adds its fields to a response taken straight from fetch", async () => {
    const app = new Hono();
    app.use(
      rateLimit({
        store: store("durable-object"),
        sink: () => {},
        policy: {
          prefix: uniquePrefix(),
          rules: [{ name: "all", match: { path: "*" }, limits: [{ rate: "5/s" }] }],
        },
      }),
    );
    app.get("/proxy", () => fetch(env.ORIGIN_URL));
    const res = await app.request("/proxy", { headers: { "cf-connecting-ip": "192.0.2.77" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-origin")).toBe("echo");
    // 5/s gives a unit back within 200 ms: r is all that is promised (t=0).
    expect(res.headers.get("ratelimit")).toBe('"ip-1s";r=4;t=0');
  });
});
