import { describe, expect, it } from "vitest";
import { gateway, STORES, statuses, uniquePrefix } from "./helpers.ts";

describe.each(STORES)("the engine through the gateway, %s store", (store) => {
  it("admits exactly N of 500 concurrent requests on one subject", async () => {
    const limit = 37;
    // 500 requests queue at one store; a generous budget and failing closed
    // make any store trouble show up as 503, never as over-admission.
    const gw = gateway(store, {
      store: { timeoutMs: 5000 },
      rules: [
        {
          name: "hot",
          match: { path: "/hot" },
          limits: [{ rate: `${limit}/h`, by: "ip" }],
          onStoreError: "deny",
        },
      ],
    });
    const responses = await Promise.all(
      Array.from({ length: 500 }, () => gw.fetch("/hot", { ip: "203.0.113.200" })),
    );
    const codes = responses.map((r) => r.status);
    await Promise.all(responses.map((r) => r.body?.cancel()));
    const admitted = codes.filter((c) => c === 200).length;
    console.log(`[${store}] 500 concurrent requests, limit ${limit}: admitted ${admitted}`);
    expect(admitted).toBe(limit);
    expect(codes.filter((c) => c === 429)).toHaveLength(500 - limit);
  });

  it("with countRejected, hammering a locked rule keeps pushing the retry time out", async () => {
    const gw = gateway(store, {
      rules: [
        {
          name: "login",
          match: { path: "/login", methods: ["POST"] },
          limits: [{ rate: "2/min", by: "ip" }],
          countRejected: true,
        },
      ],
    });
    const retry: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await gw.fetch("/login", { method: "POST" });
      await res.body?.cancel();
      retry.push(res.status === 429 ? (res.headers.get("retry-after") ?? "") : String(res.status));
    }
    // 2/min: 30 s per unit. Each denied attempt costs another 30 s.
    expect(retry).toEqual(["200", "200", "60", "90", "120"]);
    gw.clock.advance(60_000);
    expect(await statuses(gw, 1, "/login", { method: "POST" })).toEqual([429]);
  });

  it("with countStatus, only failing responses count (refunded otherwise)", async () => {
    const gw = gateway(store, {
      rules: [
        {
          name: "login",
          match: { path: "/__status/*", methods: ["POST"] },
          limits: [{ rate: "2/min", by: "ip" }],
          countStatus: ["4xx"],
        },
      ],
    });
    const post = { method: "POST" };
    expect(await statuses(gw, 5, "/__status/200", post)).toEqual([200, 200, 200, 200, 200]);
    expect(await statuses(gw, 2, "/__status/401", post)).toEqual([401, 401]);
    expect(await statuses(gw, 1, "/__status/200", post)).toEqual([429]);
    expect(gw.events.filter((e) => e.outcome === "refunded")).toHaveLength(5);
  });

  it.each(["gcra", "fixed-window"])(
    "%s: two callers 2 s apart admit at most the bound plus the documented tolerance",
    async (algorithm) => {
      // Both gateways share the policy (same prefix, so the same keys); only their clocks differ.
      const policy = {
        prefix: uniquePrefix(),
        rules: [
          { name: "skew", match: { path: "/s" }, limits: [{ rate: "10/s", by: "ip", algorithm }] },
        ],
      };
      const a = gateway(store, policy);
      const b = gateway(store, policy);
      b.clock.now = a.clock.now + 2000;
      let admitted = 0;
      let lastRetryB = 0;
      const durationMs = 3000;
      for (let t = 0; t < durationMs; t += 50) {
        for (const gw of [a, b]) {
          const res = await gw.fetch("/s");
          await res.body?.cancel();
          if (res.status === 200) admitted += 1;
          if (gw === b && res.status === 429) lastRetryB = Number(res.headers.get("retry-after"));
        }
        a.clock.advance(50);
        b.clock.advance(50);
      }
      // Bound without skew: burst + rate × duration = 10 + 30. Tolerance: rate × skew = 20
      // (the slow caller never rewinds a key, the fast one can at most run 2 s ahead).
      const bound = 10 + 10 * (durationMs / 1000);
      const tolerance = 10 * 2;
      console.log(
        `[${store}/${algorithm}] skewed callers admitted ${admitted}, bound ${bound}+${tolerance}`,
      );
      expect(admitted).toBeLessThanOrEqual(bound + tolerance);
      expect(admitted).toBeGreaterThanOrEqual(bound - 10);
      expect(lastRetryB).toBeGreaterThanOrEqual(1);
    },
  );

  it("never lets a key's time run backwards for a caller whose clock is behind", async () => {
    const policy = {
      prefix: uniquePrefix(),
      rules: [{ name: "back", match: { path: "/b" }, limits: [{ rate: "1/min", by: "ip" }] }],
    };
    const ahead = gateway(store, policy);
    const behind = gateway(store, policy);
    ahead.clock.now = behind.clock.now + 2000;
    expect(await statuses(ahead, 1, "/b")).toEqual([200]);
    const res = await behind.fetch("/b");
    expect(res.status).toBe(429);
    // Measured on the key's own timeline (the ahead clock): 60 s, not 62 s.
    expect(res.headers.get("retry-after")).toBe("60");
  });
});
