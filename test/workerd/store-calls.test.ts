import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ShardOp, SluiceStore } from "../../src/stores/durable-object/limit-store.ts";
import { objectFor } from "../../src/stores/durable-object/placement.ts";
import { countedStore, gateway, randomKey, STORES, statuses, uniquePrefix } from "./helpers.ts";

async function storeRequests(): Promise<number> {
  const res = await fetch(`${env.TEST_COUNT_REDIS_URL}/__control/stats`);
  return ((await res.json()) as { requests: number }).requests;
}

const TWO_LIMITS = {
  rules: [
    {
      name: "api",
      match: { path: "/api/*" },
      limits: [
        { rate: "3/min", by: "apiKey" },
        { rate: "100/min", by: "ip" },
      ],
    },
  ],
};

describe("store calls per request", () => {
  it("is one round trip for a two-limit rule, and none for an already-blocked client", async () => {
    // Metrics off: a slow run could otherwise see a metrics flush (one call per 5 s) in the count.
    const gw = gateway("redis", TWO_LIMITS, {
      UPSTASH_REDIS_REST_URL: env.TEST_COUNT_REDIS_URL,
      SLUICE_METRICS_OFF: "1",
    });
    const key = { headers: { "x-api-key": "k-calls" } };
    await statuses(gw, 1, "/api/warm", key); // loads the script once
    const before = await storeRequests();
    expect(await statuses(gw, 3, "/api/x", key)).toEqual([200, 200, 429]);
    const afterAdmitted = await storeRequests();
    expect(afterAdmitted - before).toBe(3);

    expect(await statuses(gw, 20, "/api/x", key)).toEqual(Array(20).fill(429));
    expect((await storeRequests()) - afterAdmitted).toBe(0);

    // Once the retry time passes, the store is asked again.
    gw.clock.advance(20_000);
    expect(await statuses(gw, 1, "/api/x", key)).toEqual([200]);
    expect((await storeRequests()) - afterAdmitted).toBe(1);
  });
});

describe("NOSCRIPT recovery through the gateway", () => {
  it("decides correctly after Redis's script cache is flushed mid-run", async () => {
    const gw = gateway("redis", {
      rules: [{ name: "ns", match: { path: "/ns" }, limits: [{ rate: "3/min", by: "ip" }] }],
    });
    expect(await statuses(gw, 2, "/ns")).toEqual([200, 200]);
    const flush = await fetch(env.TEST_REDIS_URL, {
      method: "POST",
      headers: { authorization: `Bearer ${env.TEST_REDIS_TOKEN}` },
      body: JSON.stringify(["SCRIPT", "FLUSH"]),
    });
    expect(flush.status).toBe(200);
    expect(await statuses(gw, 2, "/ns")).toEqual([200, 429]);
    expect(gw.events.every((e) => e.storeError === undefined)).toBe(true);
  });
});

describe("Durable Object state hygiene", () => {
  it("leaves nothing live once every window has passed", async () => {
    const prefix = uniquePrefix();
    const gw = gateway("durable-object", {
      prefix,
      rules: [
        {
          name: "hygiene",
          match: { path: "/h" },
          limits: [
            { rate: "5/min", by: "ip", name: "gcra" },
            { rate: "10/h", by: "ip", algorithm: "fixed-window", name: "fixed" },
            { rate: "5/min", by: "ip", algorithm: "token-bucket", name: "bucket" },
            { rate: "3/2min", by: "ip", algorithm: "sliding-log", name: "log" },
            { rate: "10/h", by: "ip", algorithm: "sliding-window", name: "window" },
          ],
        },
      ],
    });
    for (const ip of ["192.0.2.1", "192.0.2.2", "2001:db8::1"]) await statuses(gw, 2, "/h", { ip });
    // A rule's keys live in its object (one per rule unless store.shards says otherwise).
    const ns = env.SLUICE_STORE as unknown as DurableObjectNamespace<SluiceStore>;
    const stub = ns.getByName(objectFor(`${prefix}:hygiene:x:ip:192.0.2.1`, 1));
    const live = (afterMs: number) => stub.liveKeys(gw.clock.now + afterMs, `${prefix}:`);
    expect(await live(0)).toBe(15);
    // GCRA and the token bucket lapse when refilled (2 × 12 s), the log when
    // its newest entry ages out (2 min), the fixed window when it closes
    // (1 h), the sliding window when its count stops weighing: the end of the
    // next whole hour of the key's clock.
    expect(await live(24_000 - 1)).toBe(15);
    expect(await live(24_000)).toBe(9);
    expect(await live(120_000 - 1)).toBe(9);
    expect(await live(120_000)).toBe(6);
    expect(await live(3_600_000)).toBe(3);
    const windowEnds = 2 * 3_600_000 - (gw.clock.now % 3_600_000);
    expect(await live(windowEnds - 1)).toBe(3);
    expect(await live(windowEnds)).toBe(0);
  });
});

describe("the limit object's batches", () => {
  it("leave nothing behind when one fails: its callers hear an error, so none of it counts", async () => {
    const ns = env.SLUICE_STORE as unknown as DurableObjectNamespace<SluiceStore>;
    const stub = ns.getByName(`${uniquePrefix()}-atomic`);
    const T = 1_780_000_000_000;
    const decide = (key: string, algorithm = "gcra") => ({
      op: "decide" as const,
      req: {
        rule: "atomic",
        checks: [{ id: "l", key, algorithm, count: 1, periodMs: 60_000, burst: 1, cost: 1 }],
        nowMs: T,
        countRejected: false,
      },
    });
    // An operation it cannot run (an algorithm of another version, mid-deploy) fails the batch.
    const batch = [decide("kept:a"), decide("bad:b", "no-such-algorithm")] as ShardOp[];
    expect(await stub.run(batch)).toEqual({
      failed: "Cannot read properties of undefined (reading 'step')",
    });
    // The first decision of the failed batch was not counted, in memory or in SQLite.
    const [first] = (await stub.run([decide("kept:a")] as ShardOp[])) as unknown as [
      { allowed: boolean },
    ];
    expect(first.allowed).toBe(true);
    expect(await stub.liveKeys(T)).toBe(1);
  });
});

const ADMIN_TOKEN = "admin-token-for-store-call-tests-0123";

describe.each(STORES)("store calls per request with issued keys, %s store", (kind) => {
  it("is one call for a known key in steady state, and none for a locked-out guesser", async () => {
    const store = countedStore(kind);
    const policy = {
      plans: { pro: "100/min; 10000/day" },
      tenants: { namespace: `dir-${uniquePrefix()}`, authFailures: "3/min" },
      rules: [
        {
          name: "api",
          match: { path: "/api/*" },
          limits: [
            { rate: "plan", by: "tenant" },
            { rate: "100/min", by: "ip" },
          ],
        },
      ],
    };
    const gw = gateway(kind, policy, { ...store.env, SLUICE_ADMIN_TOKEN: ADMIN_TOKEN });
    const post = (path: string, body: unknown) =>
      gw.fetch(`/__sluice/admin${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await (await post("/tenants", { id: "acme", plan: "pro" })).body?.cancel();
    const { secret } = (await (await post("/keys", { tenant: "acme" })).json()) as {
      secret: string;
    };
    const key = { headers: { "x-api-key": secret } };
    await statuses(gw, 1, "/api/warm", key); // resolves the key, loads the script
    const before = await store.calls();
    expect(await statuses(gw, 5, "/api/x", key)).toEqual(Array(5).fill(200));
    expect((await store.calls()) - before).toBe(5);

    // Keys that cannot have been issued cost no store call at all (audit F17).
    const junk = await store.calls();
    for (const k of ["x0", "sk_live_short", crypto.randomUUID(), `sk_test_${"A".repeat(43)}`]) {
      expect(
        await statuses(gw, 1, "/api/x", { ip: "198.51.100.76", headers: { "x-api-key": k } }),
      ).toEqual([401]);
    }
    expect((await store.calls()) - junk).toBe(0);

    const guess = () => ({ ip: "198.51.100.77", headers: { "x-api-key": randomKey() } });
    for (let i = 0; i < 4; i++) await statuses(gw, 1, "/api/x", guess());
    const locked = await store.calls();
    for (let i = 0; i < 20; i++) expect(await statuses(gw, 1, "/api/x", guess())).toEqual([429]);
    // The same bad key again and again: its cached "unknown" must not reopen the door.
    const same = { ip: "198.51.100.77", headers: { "x-api-key": randomKey() } };
    for (let i = 0; i < 10; i++) expect(await statuses(gw, 1, "/api/x", same)).toEqual([429]);
    expect((await store.calls()) - locked).toBe(0);
  });
});
