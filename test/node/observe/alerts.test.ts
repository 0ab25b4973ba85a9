/** @module test/node/observe/alerts — one alert per episode for each threshold, and the signed webhook with its retries, against a local receiver. */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { type Alert, AlertWatch } from "../../../src/observe/alerts.ts";
import type { DecisionEvent } from "../../../src/observe/index.ts";
import { Webhook } from "../../../src/observe/webhook.ts";
import { MemoryMetricsStore } from "../../../src/stores/memory/metrics-store.ts";

const SECRET = "whsec-0123456789abcdef";

function event(
  outcome: DecisionEvent["outcome"],
  extra: Partial<DecisionEvent> = {},
): DecisionEvent {
  return {
    msg: "sluice.decision",
    rule: "api",
    outcome,
    mode: "enforce",
    method: "GET",
    path: "/api/x",
    ipKey: "203.0.113.7",
    limits: [{ id: "ip-1m", by: "ip", allowed: outcome !== "denied", remaining: 0, resetMs: 1000 }],
    retryAfterMs: 0,
    store: "redis",
    storeMs: 1,
    policyVersion: "1",
    policyHash: "h",
    ...extra,
  };
}

const noBackground = () => undefined;

describe("alert episodes", () => {
  it("fires a denial spike once, and again only after the rate has fallen to half", () => {
    const alerts: Alert[] = [];
    const watch = new AlertWatch(
      {
        quota: null,
        denials: { above: 0.5, withinMs: 60_000, minRequests: 10 },
        storeDegraded: null,
      },
      undefined,
      (a) => alerts.push(a),
    );
    let now = 0;
    const send = (n: number, outcome: DecisionEvent["outcome"], stepMs: number) => {
      for (let i = 0; i < n; i++) {
        now += stepMs;
        watch.decided(event(outcome), now, noBackground);
      }
    };
    send(10, "allowed", 100);
    send(40, "denied", 100);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      msg: "sluice.alert",
      alert: "denials",
      rule: "api",
      above: 0.5,
    });
    // A minute of admissions: the window forgets the spike, the episode ends.
    send(70, "allowed", 1000);
    expect(alerts).toHaveLength(1);
    send(200, "denied", 100);
    expect(alerts).toHaveLength(2);
  });

  it("fires store-degraded once after it has lasted the configured time", () => {
    const alerts: Alert[] = [];
    const watch = new AlertWatch(
      { quota: null, denials: null, storeDegraded: { forMs: 30_000 } },
      undefined,
      (a) => alerts.push(a),
    );
    const failed = event("degraded-local", { storeError: "timeout: no answer in 250 ms" });
    for (let t = 0; t <= 29_000; t += 1000) watch.decided(failed, t, noBackground);
    expect(alerts).toHaveLength(0);
    for (let t = 30_000; t <= 60_000; t += 1000) watch.decided(failed, t, noBackground);
    expect(alerts).toEqual([
      expect.objectContaining({ alert: "store-degraded", store: "redis", forMs: 30_000 }),
    ]);
    watch.decided(event("allowed"), 61_000, noBackground);
    for (let t = 62_000; t <= 100_000; t += 1000) watch.decided(failed, t, noBackground);
    expect(alerts).toHaveLength(2);
  });

  it("fires a tenant's quota once per crossing", () => {
    const alerts: Alert[] = [];
    const watch = new AlertWatch(
      { quota: { above: 0.8 }, denials: null, storeDegraded: null },
      undefined,
      (a) => alerts.push(a),
    );
    const use = (used: number, at: number) =>
      watch.quota(
        { tenant: "acme", rule: "api", limit: "tenant-1d", used, resetMs: 86_400_000 },
        at,
        noBackground,
      );
    use(0.5, 1);
    use(0.8, 2);
    use(0.9, 3);
    use(1, 4);
    expect(alerts).toEqual([
      expect.objectContaining({ alert: "quota", tenant: "acme", used: 0.8 }),
    ]);
    use(0.1, 5); // refilled (or reset by an admin)
    use(0.85, 6);
    expect(alerts).toHaveLength(2);
  });
});

describe("alert episodes across isolates", () => {
  const config = {
    quota: { above: 0.8 },
    denials: { above: 0.5, withinMs: 60_000, minRequests: 10 },
    storeDegraded: { forMs: 30_000 },
  };

  /** Background work collected, as a request's `waitUntil` would hold it. */
  function requestScope() {
    const work: Promise<unknown>[] = [];
    return { background: (p: Promise<unknown>) => work.push(p), settled: () => Promise.all(work) };
  }

  it("tells an episode once when several isolates see it, and again once its hold has passed", async () => {
    const shared = new MemoryMetricsStore();
    const alerts: Alert[] = [];
    const isolates = [1, 2, 3].map(
      () => new AlertWatch(config, undefined, (a) => alerts.push(a), shared),
    );
    const scope = requestScope();
    const spike = (at: number, denied: number) => {
      for (const watch of isolates) {
        for (let i = 0; i < 10; i++) watch.decided(event("allowed"), at + i, scope.background);
        for (let i = 0; i < denied; i++)
          watch.decided(event("denied"), at + 10 + i, scope.background);
      }
    };
    spike(0, 20);
    await scope.settled();
    expect(alerts).toEqual([expect.objectContaining({ alert: "denials", rule: "api" })]);
    // Each isolate's spike ends (a quiet window), then starts again past the 60 s hold.
    for (const watch of isolates) {
      for (let t = 0; t < 70; t++)
        watch.decided(event("allowed"), 1_000 + t * 1000, scope.background);
    }
    // The quiet minute is still in the window: it takes more denials to pass half.
    spike(75_000, 100);
    await scope.settled();
    expect(alerts).toHaveLength(2);
  });

  it("keeps episodes of different rules and tenants apart", async () => {
    const shared = new MemoryMetricsStore();
    const alerts: Alert[] = [];
    const here = new AlertWatch(config, undefined, (a) => alerts.push(a), shared);
    const there = new AlertWatch(config, undefined, (a) => alerts.push(a), shared);
    const scope = requestScope();
    const use = (watch: AlertWatch, tenant: string) =>
      watch.quota(
        { tenant, rule: "api", limit: "tenant-1d", used: 0.9, resetMs: 86_400_000 },
        1,
        scope.background,
      );
    use(here, "acme");
    use(there, "acme");
    use(there, "globex");
    await scope.settled();
    expect(alerts.map((a) => a.tenant)).toEqual(["acme", "globex"]);
  });

  it("tells the episode anyway when the claim fails", async () => {
    const alerts: Alert[] = [];
    const down = { claimAlert: () => Promise.reject(new Error("store unreachable")) };
    const watch = new AlertWatch(config, undefined, (a) => alerts.push(a), down);
    const scope = requestScope();
    const failed = event("degraded-local", { storeError: "timeout: no answer in 250 ms" });
    for (let t = 0; t <= 31_000; t += 1000) watch.decided(failed, t, scope.background);
    await scope.settled();
    expect(alerts).toEqual([expect.objectContaining({ alert: "store-degraded" })]);
  });
});

describe("alert webhook", () => {
  const hits: Array<{ status: number; body: string; signature: string }> = [];
  let answers: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = answers.shift() ?? 200;
      hits.push({
        status,
        body: Buffer.concat(chunks).toString("utf8"),
        signature: String(req.headers["sluice-signature"]),
      });
      res.writeHead(status).end();
    });
  });
  const listening = new Promise<string>((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`),
    ),
  );
  afterAll(() => {
    server.close();
  });

  /** What README tells receivers to do: recompute the MAC over "<t>.<body>" and compare in constant time. */
  function verify(signature: string, body: string): boolean {
    const parts = Object.fromEntries(
      signature.split(",").map((p) => p.split("=") as [string, string]),
    );
    const expected = createHmac("sha256", SECRET).update(`${parts.t}.${body}`).digest();
    const given = Buffer.from(parts.v1 ?? "", "hex");
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  it("POSTs each alert signed with HMAC-SHA256, retrying 5xx with backoff", async () => {
    const hook = new Webhook(new URL(await listening), SECRET, { backoffMs: 20 });
    answers = [503, 500, 200];
    const alert = { msg: "sluice.alert", alert: "quota", tenant: "acme" };
    expect(await hook.deliver(alert)).toBe(true);
    expect(hits.map((h) => h.status)).toEqual([503, 500, 200]);
    for (const h of hits) {
      expect(JSON.parse(h.body)).toEqual(alert);
      expect(h.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verify(h.signature, h.body)).toBe(true);
      expect(verify(h.signature, h.body.replace("acme", "evil"))).toBe(false);
    }
  });

  it("gives up after its attempts, and at once on a 4xx", async () => {
    const hook = new Webhook(new URL(await listening), SECRET, { backoffMs: 5, attempts: 3 });
    hits.length = 0;
    answers = [500, 500, 500, 500];
    expect(await hook.deliver({ n: 1 })).toBe(false);
    expect(hits).toHaveLength(3);
    hits.length = 0;
    answers = [400];
    expect(await hook.deliver({ n: 2 })).toBe(false);
    expect(hits).toHaveLength(1);
  });
});
