/** @module test/node/middleware/store-away-denials — a store that slows down mid-burst does not reopen a limit it had already closed. */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { LocalFallback } from "../../../src/limiter/fallback.ts";
import { type DecideRequest, type Decision, StoreError } from "../../../src/limiter/types.ts";
import { rateLimit } from "../../../src/middleware/rate-limit/index.ts";
import type { DecisionEvent } from "../../../src/observe/index.ts";
import { MemoryStore } from "../../../src/stores/memory/limit-store.ts";

/** A memory store that times out while `away` is set. */
class SlowingStore extends MemoryStore {
  away = false;
  override async decide(req: DecideRequest): Promise<Decision> {
    if (this.away) throw new StoreError("store did not answer within 250 ms", "timeout");
    return super.decide(req);
  }
}

function gateway(countRejected: boolean) {
  const store = new SlowingStore();
  let now = 1_780_000_000_000;
  const events: DecisionEvent[] = [];
  const hono = new Hono();
  hono.use(
    rateLimit({
      policy: {
        log: { allowed: true },
        rules: [
          {
            name: "login",
            match: { path: "/login" },
            limits: [{ rate: "5/min", by: "ip" }],
            countRejected,
          },
        ],
      },
      store,
      clock: () => now,
      sink: (e) => events.push(e),
      getIP: () => "203.0.113.9",
    }),
  );
  hono.get("/login", (c) => c.text("ok"));
  return {
    store,
    events,
    advance: (ms: number) => {
      now += ms;
    },
    get: () => hono.request("/login"),
  };
}

describe.each([false, true])(
  "a rule whose store slows down mid-burst (countRejected %s)",
  (countRejected) => {
    it("keeps the store's denial while the store is away, with its remaining wait", async () => {
      const gw = gateway(countRejected);
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await gw.get());
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429]);
      // GCRA 5/min: the next request is due 12 s after the fifth (24 s when
      // the refused sixth counted too).
      const wait = countRejected ? 24 : 12;
      expect(answers[5]?.headers.get("retry-after")).toBe(String(wait));

      gw.store.away = true;
      gw.advance(2_000);
      const held = await gw.get();
      expect(held.status).toBe(429);
      expect(held.headers.get("sluice-degraded")).toBe("local");
      expect(held.headers.get("retry-after")).toBe(String(wait - 2));
      expect(gw.events.at(-1)).toMatchObject({
        outcome: "denied",
        degraded: "local",
        storeError: "timeout: store did not answer within 250 ms",
      });
    });

    it("counts in this isolate once the store's wait is over", async () => {
      const gw = gateway(countRejected);
      let last: Response | undefined;
      for (let i = 0; i < 6; i++) last = await gw.get();
      gw.store.away = true;
      gw.advance(Number(last?.headers.get("retry-after")) * 1000);
      const after = await gw.get();
      expect(after.status).toBe(200);
      expect(after.headers.get("sluice-degraded")).toBe("local");
    });
  },
);

describe("LocalFallback", () => {
  const req = (nowMs: number): DecideRequest => ({
    rule: "login",
    checks: [
      {
        id: "ip-1m",
        key: "t:login:ip:1",
        algorithm: "gcra",
        count: 5,
        periodMs: 60_000,
        burst: 5,
        cost: 1,
      },
    ],
    nowMs,
    countRejected: false,
  });

  it("holds a denial at most 30 s, even when the store said an hour", async () => {
    const fallback = new LocalFallback(new MemoryStore());
    fallback.heard(req(0), { allowed: false, retryAfterMs: 3_600_000, limits: [] });
    expect((await fallback.decide(req(29_999))).allowed).toBe(false);
    expect((await fallback.decide(req(30_000))).allowed).toBe(true);
  });

  it("never holds an admission or a full concurrency cap", async () => {
    const fallback = new LocalFallback(new MemoryStore());
    fallback.heard(req(0), { allowed: true, retryAfterMs: 0, limits: [] });
    expect((await fallback.decide(req(1))).allowed).toBe(true);

    const capped = new LocalFallback(new MemoryStore());
    capped.heard(req(0), {
      allowed: false,
      retryAfterMs: 1_000,
      limits: [],
      concurrency: { max: 1, inFlight: 1 },
    });
    expect((await capped.decide(req(1))).allowed).toBe(true);
  });
});
