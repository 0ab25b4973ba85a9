/** @module test/workerd/adaptive — adaptive rules through the gateway on both stores: the origin's answers move the factor, the limits follow, a pause spares the origin. */
import { describe, expect, it } from "vitest";
import { gateway, STORES, type TestGateway } from "./helpers.ts";

/** Windows of 100 ms judged on 5 requests; after a change, 1 s (the latency) of reports is ignored. */
const POLICY = {
  log: { allowed: true },
  rules: [
    {
      name: "api",
      match: { path: "*" },
      limits: [{ rate: "100/min", by: "global", algorithm: "fixed-window" }],
      adaptive: { window: "100ms", hold: "200ms", latency: "1s", minRequests: 5, decrease: 0.5 },
    },
  ],
};

async function send(gw: TestGateway, path: string): Promise<Response> {
  const res = await gw.fetch(path);
  await res.body?.cancel();
  return res;
}

const quota = (res: Response) => /;q=(\d+)/.exec(res.headers.get("ratelimit-policy") ?? "")?.[1];

describe.each(STORES)("adaptive limits on the %s store", (kind) => {
  it("halves the rule's limits when the origin fails, and says so in the fields and the log", async () => {
    const gw = gateway(kind, POLICY);
    for (let i = 0; i < 5; i++) expect((await send(gw, "/__status/500")).status).toBe(500);
    expect(gw.events.map((e) => e.factor)).toEqual([1, 1, 1, 1, 1]);

    // The five failures go with the next decision; the window is judged.
    gw.clock.advance(100);
    const judged = await send(gw, "/x");
    expect(judged.status).toBe(200);
    expect(quota(judged)).toBe("50");
    expect(gw.events.at(-1)).toMatchObject({ outcome: "allowed", factor: 0.5 });
    // 6 of the window's requests are counted: 44 of the 50 remain.
    expect(judged.headers.get("ratelimit")).toMatch(/;r=44;/);

    // Healthy answers while the change settles move nothing.
    for (let i = 0; i < 10; i++) await send(gw, "/x");
    gw.clock.advance(300);
    expect(quota(await send(gw, "/x"))).toBe("50");
  });

  it("refuses everything past the scaled limit, across the whole rule", async () => {
    const gw = gateway(kind, POLICY);
    for (let i = 0; i < 5; i++) await send(gw, "/__status/502");
    gw.clock.advance(100);
    const statuses = [];
    for (let i = 0; i < 60; i++) statuses.push((await send(gw, "/x")).status);
    // 5 already counted: 45 more of the 50 the factor leaves.
    expect(statuses.filter((s) => s === 200)).toHaveLength(45);
    expect(statuses.slice(45).every((s) => s === 429)).toBe(true);
  });

  it("pauses the route for the origin's Retry-After, answering 503 itself, then resumes", async () => {
    const gw = gateway(kind, POLICY);
    const asked = await send(gw, "/__status/503?retry-after=30");
    expect(asked.status).toBe(503);

    // The next decision carries the origin's request: it is refused, its count given back.
    const first = await send(gw, "/x");
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).toBe("30");
    expect(first.headers.get("content-type")).toBe("application/problem+json");
    expect(gw.events.at(-1)).toMatchObject({ outcome: "paused", factor: 0.5 });

    // Meanwhile answered from memory, without a store call.
    gw.clock.advance(10_000);
    const during = await send(gw, "/x");
    expect(during.status).toBe(503);
    expect(during.headers.get("retry-after")).toBe("20");
    expect(gw.events.at(-1)).toMatchObject({ outcome: "paused", store: "", storeMs: 0 });

    gw.clock.advance(20_000);
    const after = await send(gw, "/x");
    expect(after.status).toBe(200);
    // Two counted: the origin's 503 and this one; the refused request gave its count back.
    expect(after.headers.get("ratelimit")).toMatch(/;r=48;/);
  });

  it("leaves a shadow rule's requests alone during a pause", async () => {
    const shadow = { ...POLICY, rules: [{ ...POLICY.rules[0], mode: "shadow" }] };
    const gw = gateway(kind, shadow);
    await send(gw, "/__status/503?retry-after=30");
    expect((await send(gw, "/x")).status).toBe(200);
    expect((await send(gw, "/x")).status).toBe(200);
    expect(gw.events.at(-1)).toMatchObject({ factor: 0.5 });
  });
});
