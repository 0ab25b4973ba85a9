import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { gateway, LOGIN_POLICY, STORES } from "./helpers.ts";

describe.each(STORES)("health on the %s store", (store) => {
  it("reports the store reachable and the policy's version and hash", async () => {
    const gw = gateway(store, LOGIN_POLICY);
    const res = await gw.fetch("/__sluice/health");
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      policy: { version: string; hash: string };
      store: unknown;
    };
    expect(body.status).toBe("ok");
    expect(body.policy.version).toBe("test-1");
    expect(body.policy.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(body.store).toMatchObject({ kind: store, reachable: true });
  });
});

describe("an invalid policy", () => {
  it("is never half-applied: every request gets a 500 naming the field", async () => {
    const bad = JSON.stringify({
      rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "10/fortnight" }] }],
    });
    const gw = gateway("durable-object", LOGIN_POLICY, { SLUICE_POLICY: bad });
    for (const path of ["/api/x", "/other", "/__sluice/health"]) {
      const res = await gw.fetch(path);
      expect(res.status).toBe(500);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(JSON.stringify(await res.json())).toContain("rules[0].limits[0].rate");
    }
  });

  it("reports unparseable SLUICE_POLICY JSON", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY, { SLUICE_POLICY: "{nope" });
    const res = await gw.fetch("/x");
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).toContain("SLUICE_POLICY");
  });

  it("refuses a missing ORIGIN_URL", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY, { ORIGIN_URL: "" });
    const res = await gw.fetch("/x");
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).toContain("ORIGIN_URL");
  });
});

describe("the deployed entry point", () => {
  it("serves the bundled policy on the Durable Object store by default", async () => {
    expect(env.ORIGIN_URL).toMatch(/^http:\/\/127\.0\.0\.1:/);
    const res = await exports.default.fetch("https://gateway.test/__sluice/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ store: { kind: "durable-object", reachable: true } });
    const proxied = await exports.default.fetch("https://gateway.test/hello?x=1", {
      headers: { "cf-connecting-ip": "192.0.2.10" },
    });
    expect(proxied.status).toBe(200);
    expect(await proxied.json()).toMatchObject({ path: "/hello", query: "?x=1" });
  });

  it("returns 404 problem+json for unknown reserved paths", async () => {
    const res = await exports.default.fetch("https://gateway.test/__sluice/nope");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});
