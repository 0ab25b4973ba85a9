/** @module test/workerd/throttle — delay instead of refusing, and concurrency caps, through the gateway on both stores. */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { gateway, STORES, type TestGateway, uniquePrefix } from "./helpers.ts";

const delaying = (maxDelay: string) => ({
  rules: [
    {
      name: "api",
      match: { path: "/api/*" },
      limits: [{ rate: "10/s burst 5", by: "ip" }],
      action: "delay",
      maxDelay,
    },
  ],
});

/** A hold that does not sleep, recording what it was asked to wait; `gone` says which waits the client leaves. */
function recordingHold(gone: (n: number) => boolean = () => false) {
  const waits: number[] = [];
  return {
    waits,
    hold: async (ms: number) => {
      waits.push(ms);
      return !gone(waits.length);
    },
  };
}

const delayOf = (res: Response) =>
  Number(/sluice-delay;dur=(\d+)/.exec(res.headers.get("server-timing") ?? "")?.[1] ?? 0);

describe.each(STORES)("throttling on the %s store", (kind) => {
  it('holds requests over "10/s burst 5" for their turn: 5 at once, then one every 100 ms', async () => {
    const { hold, waits } = recordingHold();
    const gw = gateway(kind, delaying("2s"), {}, { hold });
    const answers = await Promise.all(Array.from({ length: 20 }, () => gw.fetch("/api/x")));
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    const delays = answers.map(delayOf).sort((a, b) => a - b);
    expect(delays).toEqual([0, 0, 0, 0, 0, ...Array.from({ length: 15 }, (_, i) => (i + 1) * 100)]);
    expect(waits.sort((a, b) => a - b)).toEqual(delays.slice(5));
    const logged = gw.events.filter((e) => e.delayedMs).map((e) => e.delayedMs);
    expect(logged).toHaveLength(15);
    for (const r of answers) await r.body?.cancel();
  });

  it("refuses what would wait past maxDelay", async () => {
    const gw = gateway(kind, delaying("500ms"), {}, recordingHold());
    const answers = await Promise.all(Array.from({ length: 20 }, () => gw.fetch("/api/x")));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    expect(
      answers
        .filter((r) => r.status === 200)
        .map(delayOf)
        .sort((a, b) => a - b),
    ).toEqual([0, 0, 0, 0, 0, 100, 200, 300, 400, 500]);
    for (const r of answers) await r.body?.cancel();
  });

  it("gives a held request's turn back when its client goes away", async () => {
    // The first held request's client leaves; the next one stays.
    const gw = gateway(
      kind,
      delaying("2s"),
      {},
      recordingHold((n) => n === 1),
    );
    for (let i = 0; i < 5; i++) await (await gw.fetch("/api/x")).body?.cancel();
    const gone = await gw.fetch("/api/x");
    expect(gone.status).toBe(503);
    expect(gw.events.at(-1)).toMatchObject({ outcome: "abandoned", delayedMs: 100 });
    // The turn it gave back is the next request's.
    const next = await gw.fetch("/api/x");
    expect(next.status).toBe(200);
    expect(delayOf(next)).toBe(100);
  });

  it("notices through the request's own abort signal that a held client went away", async () => {
    // The default hold, in real time: it ends when the request's signal aborts.
    const gw = gateway(kind, delaying("2s"));
    for (let i = 0; i < 5; i++) await (await gw.fetch("/api/x")).body?.cancel();
    const client = new AbortController();
    setTimeout(() => client.abort(), 20);
    const gone = await gw.fetch("/api/x", { signal: client.signal });
    // Held in full, it would have been forwarded (200) after its 100 ms turn.
    expect(gone.status).toBe(503);
    expect(gw.events.at(-1)).toMatchObject({ outcome: "abandoned", delayedMs: 100 });
  });

  it("holds a delaying rule's request while its concurrency cap is full, until a slot frees or maxDelay is spent", async () => {
    const capped = (maxDelay: string) =>
      gateway(kind, {
        origin: { timeoutMs: 5000 },
        rules: [
          {
            name: "one-at-a-time",
            match: { path: "/__slow" },
            limits: [{ rate: "100000/min", by: "ip" }],
            concurrency: { max: 1, by: "ip" },
            action: "delay",
            maxDelay,
          },
        ],
      });
    const send = async (gw: TestGateway, tag: string) => {
      const res = await gw.fetch(`/__slow?ms=150&tag=${tag}`);
      await res.text();
      return res;
    };
    // The default hold, in real time: a slot frees when the origin has answered.
    const tag = `held-${kind}-${Date.now()}`;
    const patient = capped("3s");
    const answers = await Promise.all([1, 2, 3].map(() => send(patient, tag)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    const delays = answers.map(delayOf).sort((a, b) => a - b);
    // One at once; each other one waited for the one before it (the origin takes 150 ms).
    expect(delays[0]).toBe(0);
    expect(delays[1]).toBeGreaterThanOrEqual(100);
    expect(delays[2]).toBeGreaterThanOrEqual((delays[1] ?? 0) + 100);
    expect(patient.events.map((e) => e.delayedMs ?? 0).sort((a, b) => a - b)).toEqual(delays);
    const origin = (await (await fetch(`${env.ORIGIN_URL}/__inflight?tag=${tag}`)).json()) as {
      peak: number;
    };
    expect(origin.peak).toBe(1);

    // With less patience than the origin takes, the second is refused once maxDelay is spent.
    const hasty = capped("60ms");
    const both = await Promise.all([1, 2].map(() => send(hasty, `hasty-${tag}`)));
    expect(both.map((r) => r.status).sort()).toEqual([200, 429]);
    expect(both.find((r) => r.status === 429)?.headers.get("retry-after")).toBe("1");
    expect(hasty.events.find((e) => e.outcome === "concurrency-denied")).toMatchObject({
      delayedMs: 60,
    });
  });

  it("gives a lease back when its client stops reading the body halfway", async () => {
    const gw = gateway(kind, {
      // The lease's deadline is the origin timeout + margin: far past this test.
      origin: { timeoutMs: 30_000 },
      rules: [
        {
          name: "download",
          match: { path: "/__big" },
          limits: [{ rate: "100000/min", by: "ip" }],
          concurrency: { max: 1, by: "ip" },
        },
      ],
    });
    const first = await gw.fetch("/__big?bytes=10000000");
    expect(first.status).toBe(200);
    const reader = first.body?.getReader();
    expect((await reader?.read())?.done).toBe(false);
    // Its body is still being sent: the one slot is taken.
    const meanwhile = await gw.fetch("/__big?bytes=10");
    expect(meanwhile.status).toBe(429);
    await meanwhile.body?.cancel();
    await reader?.cancel();
    await vi.waitFor(
      async () => {
        const next = await gw.fetch("/__big?bytes=10");
        await next.body?.cancel();
        expect(next.status).toBe(200);
      },
      { timeout: 5_000, interval: 50 },
    );
  });

  it("keeps at most 10 requests of one tenant in flight at the origin, from any address, and gets all capacity back", async () => {
    const tag = `cap-${kind}-${Date.now()}`;
    const token = "admin-token-for-throttle-tests-0123";
    const gw = gateway(
      kind,
      {
        origin: { timeoutMs: 5000 },
        plans: { pro: "100000/min" },
        tenants: { namespace: `dir-${uniquePrefix()}` },
        rules: [
          {
            name: "api",
            match: { path: "/__slow" },
            limits: [{ rate: "plan", by: "tenant" }],
            concurrency: { max: 10, by: "tenant" },
          },
        ],
      },
      { SLUICE_ADMIN_TOKEN: token },
    );
    const admin = (path: string, body: unknown) =>
      gw.fetch(`/__sluice/admin${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await admin("/tenants", { id: "acme", plan: "pro" })).status).toBe(201);
    const { secret } = (await (await admin("/keys", { tenant: "acme" })).json()) as {
      secret: string;
    };
    // The key is known to this isolate before the burst (its steady state).
    const warm = await gw.fetch("/__slow?ms=1", { headers: { "x-api-key": secret } });
    expect(warm.status).toBe(200);
    await warm.text(); // its lease comes back

    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        // Many addresses, one tenant: the cap follows the tenant.
        const res = await gw.fetch(`/__slow?ms=200&tag=${tag}`, {
          ip: `198.51.100.${i % 200}`,
          headers: { "x-api-key": secret },
        });
        await res.text();
        return res;
      }),
    );
    const ok = answers.filter((r) => r.status === 200).length;
    expect(ok).toBeGreaterThanOrEqual(10);
    const refused = answers.filter((r) => r.status === 429);
    expect(refused.length + ok).toBe(200);
    expect(refused.every((r) => r.headers.get("retry-after") === "1")).toBe(true);
    const origin = async () =>
      (await (await fetch(`${env.ORIGIN_URL}/__inflight?tag=${tag}`)).json()) as {
        now: number;
        peak: number;
      };
    expect((await origin()).peak).toBeLessThanOrEqual(10);
    expect(gw.events.some((e) => e.outcome === "concurrency-denied")).toBe(true);
    // Every lease comes back once its response is read: 10 fit again.
    await vi.waitFor(async () => {
      const again = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await gw.fetch(`/__slow?ms=1&tag=${tag}-again`, {
            headers: { "x-api-key": secret },
          });
          await res.text();
          return res.status;
        }),
      );
      expect(again).toEqual(Array(10).fill(200));
    });
  });
});
