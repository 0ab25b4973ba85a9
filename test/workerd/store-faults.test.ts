import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { gateway, randomKey, uniquePrefix } from "./helpers.ts";

const BUDGET_MS = 150;

function setFaults(faults: { latencyMs?: number; mode?: string }): Promise<Response> {
  return fetch(`${env.TEST_FAULT_REDIS_URL}/__control/faults`, {
    method: "POST",
    body: JSON.stringify(faults),
  });
}

function policy(onStoreError?: "allow" | "deny", rate = "100/s") {
  return {
    store: { timeoutMs: BUDGET_MS },
    rules: [
      {
        name: "api",
        match: { path: "/api/*" },
        limits: [{ rate, by: "ip" }],
        ...(onStoreError ? { onStoreError } : {}),
      },
    ],
  };
}

function faultyGateway(onStoreError?: "allow" | "deny", rate?: string) {
  return gateway("redis", policy(onStoreError, rate), {
    UPSTASH_REDIS_REST_URL: env.TEST_FAULT_REDIS_URL,
  });
}

afterEach(async () => {
  await setFaults({ latencyMs: 0, mode: "ok" });
});

describe.each([
  ["slow", { latencyMs: 2000 }, "timeout"],
  ["hanging", { mode: "hang" }, "timeout"],
  ["failing", { mode: "error" }, "error"],
  ["resetting", { mode: "reset" }, "error"],
])("a %s store", (_name, faults, failure) => {
  it("fails open within the budget when the rule says allow, marked degraded", async () => {
    await setFaults(faults);
    const gw = faultyGateway("allow");
    const started = Date.now();
    const res = await gw.fetch("/api/x");
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    // A store that runs out of time is a timeout, not an error.
    expect(res.headers.get("sluice-degraded")).toBe(`store-${failure}`);
    expect(gw.events[0]?.storeError).toMatch(new RegExp(`^${failure}: `));
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

  it("by default enforces the rule in the isolate's memory, marked local, within the budget", async () => {
    await setFaults(faults);
    const gw = faultyGateway(undefined, "10/hour");
    const started = Date.now();
    const res = await gw.fetch("/api/x");
    expect(Date.now() - started).toBeLessThan(BUDGET_MS + 1000);
    expect(res.status).toBe(200);
    expect(res.headers.get("sluice-degraded")).toBe("local");
    expect(res.headers.get("ratelimit")).toBe('"ip-1h";r=9;t=360');
    expect(res.headers.get("server-timing")).toContain(`desc="${failure}"`);
    expect(gw.events[0]).toMatchObject({ outcome: "degraded-local", degraded: "local" });
    expect(gw.events[0]?.storeError).toMatch(new RegExp(`^${failure}: `));
  });
});

describe("a dead store under the default onStoreError (local)", () => {
  it("admits at most the rule's limit per isolate, never a flood, and is skipped after three failures", async () => {
    await setFaults({ mode: "error" });
    const gw = faultyGateway(undefined, "10/hour");
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        gw.fetch("/api/x").then(async (r) => {
          await r.body?.cancel();
          return r;
        }),
      ),
    );
    expect(answers.filter((r) => r.status === 200)).toHaveLength(10);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(40);
    expect(answers.every((r) => r.headers.get("sluice-degraded") === "local")).toBe(true);
    const outcomes = gw.events.map((e) => e.outcome);
    expect(outcomes.filter((o) => o === "degraded-local")).toHaveLength(10);
    expect(outcomes.filter((o) => o === "denied")).toHaveLength(40);
    // Sequential requests after the store failed: it is skipped, not asked each time.
    gw.events.length = 0;
    for (let i = 0; i < 5; i++) await (await gw.fetch("/api/x")).body?.cancel();
    expect(gw.events.map((e) => e.storeError?.split(":")[0])).toContain("skipped");
  });

  it("uses the store again as soon as it answers a probe", async () => {
    await setFaults({ mode: "error" });
    const gw = faultyGateway(undefined, "10/hour");
    for (let i = 0; i < 4; i++) await (await gw.fetch("/api/x")).body?.cancel();
    await setFaults({ mode: "ok" });
    // The probe is due once a second.
    gw.clock.advance(1000);
    const back = await gw.fetch("/api/x");
    expect(back.status).toBe(200);
    expect(back.headers.has("sluice-degraded")).toBe(false);
    expect(gw.events.at(-1)).toMatchObject({ outcome: "allowed", store: "redis" });
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
  const ADMIN = "admin-token-for-fault-tests-0123456789";
  function tenantGateway(onStoreError: "allow" | "deny") {
    return gateway(
      "redis",
      {
        store: { timeoutMs: BUDGET_MS },
        plans: { pro: "100/s" },
        tenants: {
          namespace: `dir-${uniquePrefix()}`,
          cacheTtlSeconds: 1,
          staleIfErrorSeconds: 60,
        },
        rules: [
          {
            name: "api",
            match: { path: "/api/*" },
            limits: [{ rate: "plan", by: "tenant" }],
            onStoreError,
          },
        ],
      },
      { UPSTASH_REDIS_REST_URL: env.TEST_FAULT_REDIS_URL, SLUICE_ADMIN_TOKEN: ADMIN },
    );
  }
  const withKey = { headers: { "x-api-key": randomKey(), "x-sluice-tenant": "evil" } };

  it.each([
    ["deny", "error"],
    ["allow", "hang"],
  ] as const)(
    "refuses an unresolved key with 503 even when the rule says %s (store: %s)",
    async (onStoreError, mode) => {
      await setFaults({ mode });
      const gw = tenantGateway(onStoreError);
      const started = Date.now();
      const res = await gw.fetch("/api/x", withKey);
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(Date.now() - started).toBeLessThan(BUDGET_MS + 1000);
      expect(gw.events[0]).toMatchObject({ outcome: "store-denied" });
      expect(gw.events[0]?.storeError).toBeTruthy();
    },
  );

  it("lets a shadow rule's request through, without a tenant, when keys cannot be resolved", async () => {
    await setFaults({ mode: "error" });
    const gw = gateway(
      "redis",
      {
        store: { timeoutMs: BUDGET_MS },
        plans: { pro: "100/s" },
        tenants: { namespace: `dir-${uniquePrefix()}` },
        rules: [
          {
            name: "api",
            match: { path: "/api/*" },
            limits: [{ rate: "plan", by: "tenant" }],
            mode: "shadow",
          },
        ],
      },
      { UPSTASH_REDIS_REST_URL: env.TEST_FAULT_REDIS_URL },
    );
    const res = await gw.fetch("/api/x", withKey);
    expect(res.status).toBe(200);
    const echoed = (await res.json()) as { headers: Record<string, string> };
    expect(echoed.headers["x-sluice-tenant"]).toBeUndefined();
    expect(gw.events[0]).toMatchObject({ outcome: "degraded-allowed", mode: "shadow" });
  });

  it("keeps a key this isolate resolved for staleIfErrorSeconds, then refuses it", async () => {
    const gw = tenantGateway("allow");
    const admin = (path: string, body: unknown) =>
      gw.fetch(`/__sluice/admin${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await admin("/tenants", { id: "acme", plan: "pro" })).status).toBe(201);
    const { secret } = (await (await admin("/keys", { tenant: "acme" })).json()) as {
      secret: string;
    };
    const headers = { "x-api-key": secret };
    expect((await gw.fetch("/api/x", { headers })).status).toBe(200);

    await setFaults({ mode: "error" });
    gw.clock.advance(2000); // past the 1 s cache: the store is asked, and fails
    const stale = await gw.fetch("/api/x", { headers });
    expect(stale.status).toBe(200);
    const echoed = (await stale.json()) as { headers: Record<string, string> };
    expect(echoed.headers["x-sluice-tenant"]).toBe("acme");
    expect(gw.events.at(-1)).toMatchObject({
      outcome: "degraded-allowed",
      tenant: "acme",
      keyStale: true,
    });

    gw.clock.advance(60_000); // past staleIfErrorSeconds
    expect((await gw.fetch("/api/x", { headers })).status).toBe(503);
    expect(gw.events.at(-1)).toMatchObject({ outcome: "store-denied" });
    // An unknown key never rides on the stale answers.
    expect((await gw.fetch("/api/x", withKey)).status).toBe(503);
  });
});
