/** @module test/node/middleware/node-server — the middleware in a plain Hono app on Node (@hono/node-server), memory store, with its hooks. */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rateLimit } from "../../../src/middleware/rate-limit/index.ts";
import type { DecisionEvent } from "../../../src/observe/index.ts";

const events: DecisionEvent[] = [];
let base = "";
let close: () => Promise<void>;

beforeAll(async () => {
  // No `Variables` declared: `c.get("rateLimit")` is typed through ContextVariableMap.
  const app = new Hono();
  app.use(
    rateLimit({
      policy: {
        rules: [
          { name: "hello", match: { path: "/hello" }, limits: [{ rate: "3/min", by: "ip" }] },
          { name: "keyed", match: { path: "/keyed" }, limits: [{ rate: "1/min", by: "apiKey" }] },
        ],
      },
      sink: (e) => events.push(e),
      getIP: (c) => getConnInfo(c).remote.address,
      getKey: (c) => c.req.query("key"),
      handler: (c, info) =>
        c.json({ slowDown: info.rule, waitMs: info.decision.retryAfterMs }, 429),
    }),
  );
  app.get("/hello", (c) =>
    c.json({ remaining: c.get("rateLimit")?.decision?.limits[0]?.remaining }),
  );
  app.get("/keyed", (c) => c.text("ok"));
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise<void>((resolve) => server.close(() => resolve()));
});

afterAll(() => close());

describe("rateLimit() on Node with the memory store", () => {
  it("limits by the connection's address and answers with the app's handler", async () => {
    const bodies = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${base}/hello`);
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-policy")).toBe('"ip-1m";q=3;w=60');
      bodies.push(await res.json());
    }
    expect(bodies).toEqual([{ remaining: 2 }, { remaining: 1 }, { remaining: 0 }]);

    const denied = await fetch(`${base}/hello`);
    expect(denied.status).toBe(429);
    expect(await denied.json()).toEqual({ slowDown: "hello", waitMs: expect.any(Number) });
    // The handler shapes the body; Retry-After and the RateLimit fields are still there.
    expect(Number(denied.headers.get("retry-after"))).toBeGreaterThanOrEqual(19);
    expect(denied.headers.get("ratelimit")).toMatch(/^"ip-1m";r=0;t=\d+$/);
    expect(events.at(-1)).toMatchObject({ rule: "hello", outcome: "denied", ipKey: "127.0.0.1" });
  });

  it("takes the API key from the getKey hook and never logs it raw", async () => {
    expect((await fetch(`${base}/keyed?key=abc123`)).status).toBe(200);
    expect((await fetch(`${base}/keyed?key=abc123`)).status).toBe(429);
    expect((await fetch(`${base}/keyed?key=other`)).status).toBe(200);
    const missing = await fetch(`${base}/keyed`);
    expect(missing.status).toBe(401);
    expect(JSON.stringify(events)).not.toContain("abc123");
    expect(events.filter((e) => e.rule === "keyed").map((e) => e.keyId)).toContain(
      // First 16 hex digits of SHA-256("abc123").
      "6ca13d52ca70c883",
    );
  });
});
