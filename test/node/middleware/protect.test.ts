/** @module test/node/middleware/protect — the middleware's protection steps off Workers: memory store, injected clock and country. */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type RateLimitOptions, rateLimit } from "../../../src/middleware/rate-limit/index.ts";
import type { DecisionEvent } from "../../../src/observe/index.ts";
import { toResponse } from "../../../src/respond/problem.ts";

function app(policy: Record<string, unknown>, extra: Partial<RateLimitOptions> = {}) {
  let now = Date.parse("2026-12-01T00:00:00Z");
  const events: DecisionEvent[] = [];
  const hono = new Hono();
  hono.use(rateLimit({ policy, clock: () => now, sink: (e) => events.push(e), ...extra }));
  hono.all("*", (c) => c.json({ rule: c.get("rateLimit")?.rule ?? null }));
  hono.onError((err) => toResponse(err));
  const get = (path: string, ip = "192.0.2.1", headers: Record<string, string> = {}) =>
    hono.request(path, { headers: { "cf-connecting-ip": ip, ...headers } });
  const advance = (ms: number) => {
    now += ms;
  };
  return { get, events, advance };
}

describe("the middleware's protection steps", () => {
  it("refuse deny-listed addresses and countries on every route, leave unmatched routes untouched otherwise", async () => {
    const { get, events } = app(
      {
        lists: { blocked: { action: "deny", ips: ["198.51.100.0/24"], countries: ["KP"] } },
        rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "10/min" }] }],
      },
      { getCountry: (c) => c.req.header("x-country") },
    );
    expect((await get("/api/x", "198.51.100.9")).status).toBe(403);
    expect((await get("/elsewhere", "198.51.100.9")).status).toBe(403);
    expect((await get("/elsewhere", "192.0.2.1", { "x-country": "KP" })).status).toBe(403);
    const free = await get("/elsewhere");
    expect(await free.json()).toEqual({ rule: null });
    expect(events.map((e) => [e.outcome, e.rule, e.list])).toEqual([
      ["deny-listed", "api", "blocked"],
      ["deny-listed", "*", "blocked"],
      ["deny-listed", "*", "blocked"],
    ]);
  });

  it("ban on the memory store, with the rule's own refusal taking precedence over the app's handler", async () => {
    const { get, advance } = app(
      {
        rules: [
          {
            name: "login",
            match: { path: "/login" },
            limits: [{ rate: "2/min" }],
            ban: { after: 2, within: "1m", for: "5m" },
            response: { body: { error: "{limit} on {rule}", retry: "{retryAfter}" } },
          },
        ],
      },
      { handler: (c) => c.text("handler", 429) },
    );
    const seen: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await get("/login");
      seen.push(res.status === 200 ? 200 : [res.status, await res.json()]);
    }
    expect(seen).toEqual([
      200,
      200,
      [429, { error: "ip-1m on login", retry: 30 }],
      [429, { error: "ban on login", retry: 300 }],
      [429, { error: "ban on login", retry: 300 }],
    ]);
    advance(300_000);
    expect((await get("/login")).status).toBe(200);
  });
});
