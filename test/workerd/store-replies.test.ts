/** @module test/workerd/store-replies — store replies of the wrong shape take the store-failure path, never a 500 (audit F3). */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { StoreError } from "../../src/limiter/types.ts";
import {
  DurableObjectStore,
  type SluiceStore,
} from "../../src/stores/durable-object/limit-store.ts";
import { gateway, uniquePrefix } from "./helpers.ts";

const TOKEN = "admin-token-for-reply-tests-0123456789";

function policy(id: string) {
  return {
    prefix: id,
    store: { timeoutMs: 200 },
    plans: { pro: "100/s" },
    tenants: { namespace: `dir-${id}` },
    rules: [
      { name: "api", match: { path: "/api/*" }, limits: [{ rate: "plan", by: "tenant" }] },
      {
        name: "other",
        match: { path: "*" },
        limits: [{ rate: "100/s", by: "ip" }],
        ban: { after: 3, within: "1m", for: "10m" },
      },
    ],
  };
}

describe("a Redis endpoint that answers garbage", () => {
  it("gives 503 on the hot path and the admin API, never a 500", async () => {
    const id = uniquePrefix();
    // Tenants and a key made through a sound endpoint on the same Redis.
    const sound = gateway("redis", policy(id), { SLUICE_ADMIN_TOKEN: TOKEN });
    const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    const post = (path: string, body: unknown) =>
      sound.fetch(`/__sluice/admin${path}`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify(body),
      });
    expect((await post("/tenants", { id: "acme", plan: "pro" })).status).toBe(201);
    const { secret } = (await (await post("/keys", { tenant: "acme" })).json()) as {
      secret: string;
    };

    const bad = gateway("redis", policy(id), {
      SLUICE_ADMIN_TOKEN: TOKEN,
      UPSTASH_REDIS_REST_URL: env.TEST_GARBAGE_REDIS_URL,
    });
    const keyed = await bad.fetch("/api/x", { headers: { "x-api-key": secret } });
    expect(keyed.status).toBe(503);
    expect(bad.events.at(-1)).toMatchObject({ outcome: "store-denied" });
    // The limit decision falls back to the isolate's memory (onStoreError "local").
    const open = await bad.fetch("/x");
    expect(open.status).toBe(200);
    expect(open.headers.get("sluice-degraded")).toBe("local");
    for (const path of [
      "/tenants",
      "/tenants/acme",
      "/keys",
      "/audit",
      "/usage?subject=tenant:acme",
      "/bans",
    ]) {
      const res = await bad.fetch(`/__sluice/admin${path}`, { headers: auth });
      expect(res.status, path).toBe(503);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    const created = await bad.fetch("/__sluice/admin/tenants", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ id: "beta", plan: "pro" }),
    });
    expect(created.status).toBe(503);
  });
});

describe("a Durable Object that answers in another shape", () => {
  it.each([
    ["a string", "garbage"],
    ["too few results", []],
    ["a result without limits", [{ allowed: true }]],
  ])("is a store error when it answers %s", async (_what, reply) => {
    const ns = {
      getByName: () => ({ run: async () => reply }),
    } as unknown as DurableObjectNamespace<SluiceStore>;
    const store = new DurableObjectStore(ns, { timeoutMs: 200 });
    const check = {
      id: "ip-1s",
      key: "p:r:ip-1s:ip:1",
      algorithm: "gcra" as const,
      count: 1,
      periodMs: 1000,
      burst: 1,
      cost: 1,
    };
    await expect(
      store.decide({ rule: "r", checks: [check], nowMs: 1, countRejected: false }),
    ).rejects.toBeInstanceOf(StoreError);
  });
});
