/** @module test/node/middleware/adaptive-store-trouble — an adaptive rule while its store fails: local limits at the last factor heard, no observation lost. */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { HealthReport } from "../../../src/limiter/adaptive.ts";
import {
  type DecideRequest,
  type Decision,
  type LimitStore,
  StoreError,
} from "../../../src/limiter/types.ts";
import { rateLimit } from "../../../src/middleware/rate-limit/index.ts";
import type { DecisionEvent } from "../../../src/observe/index.ts";
import { MemoryStore } from "../../../src/stores/memory/limit-store.ts";

/** A memory store that fails with `failure` while it is set, keeping the reports it received. */
class FlakyStore extends MemoryStore {
  failure: StoreError | undefined;
  readonly reports: HealthReport[] = [];
  override async decide(req: DecideRequest): Promise<Decision> {
    if (this.failure) throw this.failure;
    if (req.adaptive) this.reports.push(req.adaptive.report);
    return super.decide(req);
  }
}

function app(store: LimitStore) {
  let now = 1_780_000_000_000;
  const events: DecisionEvent[] = [];
  const hono = new Hono();
  hono.use(
    rateLimit({
      policy: {
        log: { allowed: true },
        rules: [
          {
            name: "api",
            match: { path: "*" },
            limits: [{ rate: "100/min", by: "global", algorithm: "fixed-window" }],
            adaptive: { window: "100ms", hold: "200ms", minRequests: 5, decrease: 0.5 },
          },
        ],
      },
      store,
      clock: () => now,
      sink: (e) => events.push(e),
      getIP: () => "192.0.2.1",
    }),
  );
  hono.get("/status/:code", (c) => c.body(null, Number(c.req.param("code")) as 500));
  return {
    events,
    advance: (ms: number) => {
      now += ms;
    },
    get: (path: string) => hono.request(path),
  };
}

describe("an adaptive rule while its store fails", () => {
  it("limits locally at the factor last heard, and reports every answer once the store is back", async () => {
    const store = new FlakyStore();
    const gw = app(store);
    for (let i = 0; i < 5; i++) expect((await gw.get("/status/500")).status).toBe(500);
    gw.advance(100);
    expect((await gw.get("/status/200")).headers.get("ratelimit-policy")).toMatch(/;q=50;/);

    store.failure = new StoreError("down", "error");
    const local = await gw.get("/status/503");
    expect(local.headers.get("sluice-degraded")).toBe("local");
    expect(local.headers.get("ratelimit-policy")).toMatch(/;q=50;/);
    await gw.get("/status/200");
    expect(gw.events.at(-1)).toMatchObject({ outcome: "degraded-local", factor: 0.5 });

    store.failure = undefined;
    await gw.get("/status/200");
    // The tallies the failed calls held arrive with the first decision after:
    // the judged window's 200, the 503 and the 200 answered meanwhile.
    expect(store.reports.at(-1)).toEqual({
      requests: 3,
      errors: 1,
      slow: 0,
      overloaded: 1,
      pauseMs: 0,
    });
  });

  it("does not send a tally twice when a call ran out of time (it most likely arrived)", async () => {
    const store = new FlakyStore();
    const gw = app(store);
    await gw.get("/status/500");
    store.failure = new StoreError("slow", "timeout");
    await gw.get("/status/500");
    store.failure = undefined;
    await gw.get("/status/200");
    // The first answer went with the call that timed out; only the second follows.
    expect(store.reports.map((r) => r.requests)).toEqual([0, 1]);
  });
});
