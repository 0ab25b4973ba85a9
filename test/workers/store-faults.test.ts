import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { gateway } from "./helpers.ts";

const BUDGET_MS = 150;

function setFaults(faults: { latencyMs?: number; mode?: string }): Promise<Response> {
  return fetch(`${env.TEST_FAULT_REDIS_URL}/__control/faults`, {
    method: "POST",
    body: JSON.stringify(faults),
  });
}

function policy(onStoreError: "allow" | "deny") {
  return {
    store: { timeoutMs: BUDGET_MS },
    rules: [
      {
        name: "api",
        match: { path: "/api/*" },
        limits: [{ rate: "100/s", by: "ip" }],
        onStoreError,
      },
    ],
  };
}

function faultyGateway(onStoreError: "allow" | "deny") {
  return gateway("redis", policy(onStoreError), {
    UPSTASH_REDIS_REST_URL: env.TEST_FAULT_REDIS_URL,
  });
}

afterEach(async () => {
  await setFaults({ latencyMs: 0, mode: "ok" });
});

describe.each([
  ["slow", { latencyMs: 2000 }],
  ["hanging", { mode: "hang" }],
  ["failing", { mode: "error" }],
  ["resetting", { mode: "reset" }],
])("a %s store", (_name, faults) => {
  it("fails open within the budget when the rule says allow, marked degraded", async () => {
    await setFaults(faults);
    const gw = faultyGateway("allow");
    const started = Date.now();
    const res = await gw.fetch("/api/x");
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get("sluice-degraded")).toMatch(/^store-(timeout|error)$/);
    expect(res.headers.has("ratelimit")).toBe(false);
    expect(elapsed).toBeLessThan(BUDGET_MS + 1000);
    expect(gw.events[0]).toMatchObject({ outcome: "degraded-allowed" });
    expect(gw.events[0]?.storeError).toBeTruthy();
  });

  it("fails closed with 503 problem+json when the rule says deny", async () => {
    await setFaults(faults);
    const gw = faultyGateway("deny");
    const started = Date.now();
    const res = await gw.fetch("/api/x");
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("retry-after")).toBe("1");
    expect(Date.now() - started).toBeLessThan(BUDGET_MS + 1000);
    expect(gw.events[0]).toMatchObject({ outcome: "store-denied" });
  });
});

describe("an unreachable store", () => {
  it("fails open or closed as the rule says", async () => {
    const down = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" };
    const open = gateway("redis", policy("allow"), down);
    const closed = gateway("redis", policy("deny"), down);
    expect((await open.fetch("/api/x")).status).toBe(200);
    expect((await closed.fetch("/api/x")).status).toBe(503);
  });

  it("reports itself unreachable on the health endpoint", async () => {
    const gw = gateway("redis", policy("allow"), { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" });
    const res = await gw.fetch("/__sluice/health");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      status: "degraded",
      store: { kind: "redis", reachable: false },
    });
  });
});

describe("key resolution with the store down", () => {
  function tenantGateway(onStoreError: "allow" | "deny") {
    return gateway(
      "redis",
      {
        store: { timeoutMs: BUDGET_MS },
        plans: { pro: "100/s" },
        tenants: {},
        rules: [
          {
            name: "api",
            match: { path: "/api/*" },
            limits: [{ rate: "plan", by: "tenant" }],
            onStoreError,
          },
        ],
      },
      { UPSTASH_REDIS_REST_URL: env.TEST_FAULT_REDIS_URL },
    );
  }
  const withKey = { headers: { "x-api-key": "sk_live_unresolvable", "x-sluice-tenant": "evil" } };

  it("fails closed with 503 when the rule says deny", async () => {
    await setFaults({ mode: "error" });
    const res = await tenantGateway("deny").fetch("/api/x", withKey);
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  it("fails open without a tenant when the rule says allow, marked degraded", async () => {
    await setFaults({ mode: "hang" });
    const gw = tenantGateway("allow");
    const res = await gw.fetch("/api/x", withKey);
    expect(res.status).toBe(200);
    expect(res.headers.get("sluice-degraded")).toBe("store-timeout");
    const echoed = (await res.json()) as { headers: Record<string, string> };
    expect(echoed.headers["x-sluice-tenant"]).toBeUndefined();
    expect(gw.events[0]).toMatchObject({ outcome: "degraded-allowed" });
    expect(gw.events[0]?.storeError).toMatch(/^timeout/);
  });
});
