import { describe, expect, it } from "vitest";
import { gateway, LOGIN_POLICY, STORES, statuses } from "./helpers.ts";

const post = { method: "POST" } as const;

describe.each(STORES)("limits on the %s store", (store) => {
  it("admits exactly the burst back to back, then 429", async () => {
    const gw = gateway(store, LOGIN_POLICY);
    expect(await statuses(gw, 7, "/login", post)).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it("admits again after one emission interval, not before", async () => {
    const gw = gateway(store, LOGIN_POLICY);
    await statuses(gw, 5, "/login", post);
    gw.clock.advance(11_999);
    expect(await statuses(gw, 1, "/login", post)).toEqual([429]);
    gw.clock.advance(1);
    expect(await statuses(gw, 2, "/login", post)).toEqual([200, 429]);
  });

  it("answers 429 with problem+json, Retry-After and RateLimit fields", async () => {
    const gw = gateway(store, LOGIN_POLICY);
    await statuses(gw, 5, "/login", post);
    gw.clock.advance(2_500);
    const res = await gw.fetch("/login", post);
    expect(res.status).toBe(429);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    // 12 s interval − 2.5 s elapsed = 9.5 s, rounded up.
    expect(res.headers.get("retry-after")).toBe("10");
    expect(res.headers.get("ratelimit-policy")).toBe('"ip-1m";q=5;w=60');
    expect(res.headers.get("ratelimit")).toBe('"ip-1m";r=0;t=10');
    expect(res.headers.has("x-ratelimit-limit")).toBe(false);
    expect(res.headers.get("server-timing")).toMatch(/^sluice-store;dur=\d+, total;dur=\d+$/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      type: "https://sluice.dev/problems/rate-limited",
      title: "Too Many Requests",
      status: 429,
      rule: "login",
      retryAfter: 10,
    });
    expect(body.detail).toContain("login");
  });

  it("adds RateLimit fields to allowed responses without dropping the origin's headers", async () => {
    const gw = gateway(store, LOGIN_POLICY);
    const res = await gw.fetch("/login", post);
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit")).toBe('"ip-1m";r=4;t=12');
    expect(res.headers.get("ratelimit-policy")).toBe('"ip-1m";q=5;w=60');
    expect(res.headers.get("x-origin-custom")).toBe("keep");
    expect(res.headers.get("set-cookie")).toBe("a=1");
    expect(res.headers.get("server-timing")).toMatch(
      /^sluice-store;dur=\d+, sluice-origin;dur=\d+, total;dur=\d+$/,
    );
  });

  it("keeps the origin's own RateLimit fields and adds its items after them", async () => {
    const gw = gateway(store, {
      rules: [{ name: "all", match: { path: "*" }, limits: [{ rate: "5/min", by: "ip" }] }],
    });
    const res = await gw.fetch("/__ratelimit");
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe(
      '"origin-quota";q=1000;w=3600, "ip-1m";q=5;w=60',
    );
    expect(res.headers.get("ratelimit")).toBe('"origin-quota";r=999;t=3599, "ip-1m";r=4;t=12');
  });

  it("emits legacy X-RateLimit-* only when the policy asks", async () => {
    const gw = gateway(store, { ...LOGIN_POLICY, headers: { legacy: true } });
    const res = await gw.fetch("/login", post);
    expect(res.headers.get("x-ratelimit-limit")).toBe("5");
    expect(res.headers.get("x-ratelimit-remaining")).toBe("4");
    expect(res.headers.get("x-ratelimit-reset")).toBe("12");
  });

  it("ignores a spoofed X-Forwarded-For under the default identity", async () => {
    const gw = gateway(store, LOGIN_POLICY);
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await gw.fetch("/login", {
        ...post,
        headers: { "x-forwarded-for": `198.51.100.${i}` },
      });
      codes.push(res.status);
    }
    expect(codes).toEqual([200, 200, 200, 200, 200, 429, 429]);
    // A different real client address has its own bucket.
    expect(await statuses(gw, 1, "/login", { ...post, ip: "203.0.113.8" })).toEqual([200]);
  });

  it("keys IPv6 clients by /56: one subnet shares a bucket", async () => {
    const gw = gateway(store, LOGIN_POLICY);
    const sameNet = ["2001:db8:1:100::1", "2001:db8:1:1ff::2", "2001:db8:1:180:a:b:c:d"];
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      codes.push((await gw.fetch("/login", { ...post, ip: sameNet[i % 3] as string })).status);
    }
    expect(codes).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await statuses(gw, 1, "/login", { ...post, ip: "2001:db8:1:200::1" })).toEqual([200]);
    expect(gw.events.at(-1)?.ipKey).toBe("2001:db8:1:200::/56");
  });

  it("counts an IPv4-mapped IPv6 address as its IPv4 address", async () => {
    const gw = gateway(store, LOGIN_POLICY);
    await statuses(gw, 5, "/login", { ...post, ip: "192.0.2.1" });
    expect(await statuses(gw, 1, "/login", { ...post, ip: "::ffff:192.0.2.1" })).toEqual([429]);
  });

  it("does not consume the per-key budget when the per-IP limit denies", async () => {
    const gw = gateway(store, {
      rules: [
        {
          name: "api",
          match: { path: "/api/*" },
          limits: [
            { rate: "3/min", by: "apiKey", name: "key" },
            { rate: "2/min", by: "ip", name: "ip" },
          ],
        },
      ],
    });
    const key = { "x-api-key": "k-123" };
    expect(await statuses(gw, 3, "/api/a", { headers: key })).toEqual([200, 200, 429]);
    // From another address the key still has 1 of 3 left: the denial spent nothing.
    expect(await statuses(gw, 2, "/api/a", { headers: key, ip: "203.0.113.99" })).toEqual([
      200, 429,
    ]);
  });

  it("answers 401 problem+json when a rule limits by API key and none is sent", async () => {
    const gw = gateway(store, {
      rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "10/s", by: "apiKey" }] }],
    });
    const res = await gw.fetch("/api/x");
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    const bearer = await gw.fetch("/api/x", { headers: { authorization: "Bearer k-1" } });
    expect(bearer.status).toBe(200);
  });

  it("forwards unmatched requests without limits or RateLimit fields", async () => {
    const gw = gateway(store, LOGIN_POLICY);
    const codes = await statuses(gw, 8, "/login"); // GET does not match the POST rule
    expect(codes).toEqual(Array(8).fill(200));
    const res = await gw.fetch("/other");
    expect(res.headers.has("ratelimit")).toBe(false);
    expect(gw.events).toHaveLength(0);
  });

  it("in shadow mode logs the denial but lets the request through", async () => {
    const gw = gateway(store, {
      rules: [{ ...LOGIN_POLICY.rules[0], mode: "shadow" }],
    });
    expect(await statuses(gw, 6, "/login", post)).toEqual(Array(6).fill(200));
    expect(gw.events.map((e) => e.outcome).slice(-2)).toEqual(["allowed", "shadow-denied"]);
  });

  it("logs one structured line per decision, without the raw API key", async () => {
    const gw = gateway(store, {
      version: "v7",
      rules: [
        { name: "api", match: { path: "/api/*" }, limits: [{ rate: "1/min", by: "apiKey" }] },
      ],
    });
    const secret = "sk_test_do-not-log-me";
    await statuses(gw, 2, "/api/x?token=abc", { headers: { "x-api-key": secret } });
    expect(gw.events).toHaveLength(2);
    const [first, second] = gw.events;
    expect(first).toMatchObject({
      msg: "sluice.decision",
      rule: "api",
      outcome: "allowed",
      path: "/api/x",
      policyVersion: "v7",
      store,
    });
    expect(first?.limits[0]).toMatchObject({ by: "apiKey", remaining: 0, allowed: true });
    expect(second?.outcome).toBe("denied");
    expect(second?.retryAfterMs).toBe(60_000);
    expect(first?.policyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(gw.events)).not.toContain(secret);
    expect(JSON.stringify(gw.events)).not.toContain("token=abc");
  });

  it("with log.allowed false, logs every outcome but plain allowed ones", async () => {
    const gw = gateway(store, {
      log: { allowed: false },
      rules: [
        { name: "api", match: { path: "/api/*" }, limits: [{ rate: "2/min", by: "apiKey" }] },
      ],
    });
    const key = { headers: { "x-api-key": "k1" } };
    expect(await statuses(gw, 3, "/api/x", key)).toEqual([200, 200, 429]);
    expect(await statuses(gw, 1, "/api/x")).toEqual([401]);
    expect(gw.events.map((e) => e.outcome)).toEqual(["denied", "unauthorized"]);
  });
});
