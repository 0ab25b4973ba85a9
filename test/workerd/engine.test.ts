import { describe, expect, it } from "vitest";
import type { Algorithm } from "../../src/policy/types.ts";
import { gateway, STORES, statuses, uniquePrefix } from "./helpers.ts";

const ALGORITHMS: Algorithm[] = [
  "gcra",
  "token-bucket",
  "fixed-window",
  "sliding-window",
  "sliding-log",
];

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

  it.each(ALGORITHMS)(
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
      const skewMs = 2000;
      b.clock.now = a.clock.now + skewMs;
      let admitted = 0;
      let lastRetryB = 0;
      const durationMs = 3000;
      // The slow caller drains the key alone for 1.5 s; then the fast one joins,
      // moving the key's time 2 s ahead at once, when that refills the most.
      const joinMs = 1500;
      for (let t = 0; t < durationMs; t += 50) {
        for (const gw of t < joinMs ? [a] : [a, b]) {
          const res = await gw.fetch("/s");
          await res.body?.cancel();
          if (res.status === 200) admitted += 1;
          if (gw === b && res.status === 429) lastRetryB = Number(res.headers.get("retry-after"));
        }
        a.clock.advance(50);
        b.clock.advance(50);
      }
      // Bound without skew over 3 s: burst (or one window) + rate × duration = 10 + 30.
      // Tolerance (README, engine guarantees): the key's time runs at most 2 s
      // ahead, so rate × skew = 20 more (for windows and logs: count × ⌈skew / period⌉).
      const bound = 10 + 10 * (durationMs / 1000);
      const tolerance = 10 * (skewMs / 1000);
      console.log(
        `[${store}/${algorithm}] skewed callers admitted ${admitted}, bound ${bound}+${tolerance}`,
      );
      expect(admitted).toBeLessThanOrEqual(bound + tolerance);
      // Not vacuous: the limit kept admitting at about its rate.
      expect(admitted).toBeGreaterThanOrEqual(10 * (durationMs / 1000) - 10);
      expect(lastRetryB).toBeGreaterThanOrEqual(1);
    },
  );

  // Measured on the key's own timeline (the ahead clock): 60 s, not 62 s. The
  // sliding window's one unit weighs until the end of the next whole minute:
  // the ahead clock is 42 s into its minute, so 18 s + 60 s.
  it.each([
    ["gcra", "60"],
    ["token-bucket", "60"],
    ["fixed-window", "60"],
    ["sliding-window", "78"],
    ["sliding-log", "60"],
  ])(
    "%s: never lets a key's time run backwards for a caller whose clock is behind",
    async (algorithm, retry) => {
      const policy = {
        prefix: uniquePrefix(),
        rules: [
          { name: "back", match: { path: "/b" }, limits: [{ rate: "1/min", by: "ip", algorithm }] },
        ],
      };
      const ahead = gateway(store, policy);
      const behind = gateway(store, policy);
      ahead.clock.now = behind.clock.now + 2000;
      expect(ahead.clock.now % 60_000).toBe(42_000);
      expect(await statuses(ahead, 1, "/b")).toEqual([200]);
      const res = await behind.fetch("/b");
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe(retry);
    },
  );
});
