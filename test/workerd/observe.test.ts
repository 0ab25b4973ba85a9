/** @module test/workerd/observe — metrics added up in the store and read as OpenMetrics, W3C trace context to the origin and into the log, Server-Timing. */
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import {
  DurableObjectMetricsStore,
  type SluiceMetrics,
} from "../../src/stores/durable-object/metrics-object.ts";
import { createUpstashClient } from "../../src/stores/redis/client.ts";
import { RedisMetricsStore } from "../../src/stores/redis/metrics-store.ts";
import { gateway, STORES, statuses, uniquePrefix } from "./helpers.ts";

const TOKEN = "observe-test-token-0123456789abcdef";
const POLICY = {
  rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "3/min", by: "ip" }] }],
};
const admin = { headers: { authorization: `Bearer ${TOKEN}` } };

describe.each(STORES)("metrics on %s", (store) => {
  it("counts decisions by rule and outcome, and serves them as OpenMetrics", async () => {
    const gw = gateway(store, POLICY, { SLUICE_ADMIN_TOKEN: TOKEN });
    expect(await statuses(gw, 5, "/api/x")).toEqual([200, 200, 200, 429, 429]);
    const res = await gw.fetch("/__sluice/admin/metrics", {
      headers: { ...admin.headers, accept: "application/openmetrics-text; version=1.0.0" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/openmetrics-text/);
    const text = await res.text();
    expect(text).toContain('sluice_requests_total{outcome="allowed",rule="api"} 3');
    expect(text).toContain('sluice_requests_total{outcome="denied",rule="api"} 2');
    expect(text).toContain('sluice_limit_checks_total{limit="ip-1m",result="denied",rule="api"} 2');
    expect(text).toContain('sluice_limited_subject_recent{rule="api",subject="ip:203.0.113.7"} 2');
    expect(text).toMatch(/sluice_origin_latency_seconds_count\{rule="api"\} 3/);
    expect(text.endsWith("# EOF\n")).toBe(true);

    const plain = await gw.fetch("/__sluice/admin/metrics", admin);
    expect(plain.headers.get("content-type")).toMatch(/^text\/plain; version=0.0.4/);
    expect(await plain.text()).toContain("# TYPE sluice_requests_total counter");
  });
});

describe("metrics", () => {
  it("show an adaptive rule's factor", async () => {
    const gw = gateway(
      "durable-object",
      { rules: [{ ...POLICY.rules[0], adaptive: {} }] },
      { SLUICE_ADMIN_TOKEN: TOKEN },
    );
    expect(await statuses(gw, 1, "/api/adaptive")).toEqual([200]);
    const text = await (await gw.fetch("/__sluice/admin/metrics", admin)).text();
    expect(text).toContain('sluice_adaptive_factor{rule="api"} 1');
  });

  it("count held requests as delayed, apart from those let through at once", async () => {
    const policy = {
      rules: [
        {
          name: "api",
          match: { path: "/api/*" },
          limits: [{ rate: "10/s burst 2", by: "ip" }],
          action: "delay",
          maxDelay: "1s",
        },
      ],
    };
    const hold = async () => true;
    const gw = gateway("durable-object", policy, { SLUICE_ADMIN_TOKEN: TOKEN }, { hold });
    expect(await statuses(gw, 5, "/api/held")).toEqual([200, 200, 200, 200, 200]);
    const text = await (await gw.fetch("/__sluice/admin/metrics", admin)).text();
    expect(text).toContain('sluice_requests_total{outcome="allowed",rule="api"} 2');
    expect(text).toContain('sluice_requests_total{outcome="delayed",rule="api"} 3');
  });

  it.each(STORES)(
    "add up every isolate's flushed counts on %s, read from any isolate",
    async (store) => {
      const policy = { ...POLICY, prefix: uniquePrefix() };
      const here = gateway(store, policy, { SLUICE_ADMIN_TOKEN: TOKEN });
      const there = gateway(store, policy, { SLUICE_ADMIN_TOKEN: TOKEN });
      expect(await statuses(here, 2, "/api/a")).toEqual([200, 200]);
      expect(await statuses(there, 2, "/api/b", { ip: "203.0.113.8" })).toEqual([200, 200]);
      // The other isolate flushes with its first request past the 5 s interval.
      there.clock.advance(5_000);
      expect(await statuses(there, 1, "/api/b", { ip: "203.0.113.8" })).toEqual([200]);
      const text = await (await here.fetch("/__sluice/admin/metrics", admin)).text();
      expect(text).toContain('sluice_requests_total{outcome="allowed",rule="api"} 5');
    },
  );

  it("need the admin token, and are absent with SLUICE_METRICS_OFF", async () => {
    const gw = gateway("durable-object", POLICY, { SLUICE_ADMIN_TOKEN: TOKEN });
    expect((await gw.fetch("/__sluice/admin/metrics")).status).toBe(401);
    const off = gateway("durable-object", POLICY, {
      SLUICE_ADMIN_TOKEN: TOKEN,
      SLUICE_METRICS_OFF: "1",
    });
    expect((await off.fetch("/__sluice/admin/metrics", admin)).status).toBe(404);
  });
});

describe("trace context", () => {
  const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  it("continues the caller's trace with Sluice's own span, to the origin and in the log line", async () => {
    const gw = gateway("durable-object", POLICY);
    const res = await gw.fetch("/api/traced", {
      headers: { traceparent: parent, tracestate: "vendor=abc" },
    });
    const seen = (await res.json()) as { headers: Record<string, string> };
    const sent = seen.headers.traceparent ?? "";
    expect(sent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    const spanId = sent.split("-")[2];
    expect(spanId).not.toBe("00f067aa0ba902b7");
    expect(seen.headers.tracestate).toBe("vendor=abc");
    expect(gw.events.at(-1)).toMatchObject({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId,
      outcome: "allowed",
    });
    expect(gw.events.at(-1)?.at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("starts a trace when the caller sent none or an invalid one, and drops its tracestate", async () => {
    const gw = gateway("durable-object", POLICY);
    for (const bad of [
      undefined,
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "zz",
    ]) {
      const res = await gw.fetch("/api/new", {
        headers: bad ? { traceparent: bad, tracestate: "vendor=abc" } : {},
      });
      const seen = (await res.json()) as { headers: Record<string, string> };
      expect(seen.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      expect(seen.headers.traceparent).not.toContain("00000000000000000000000000000000");
      expect(seen.headers.tracestate).toBeUndefined();
      expect(gw.events.at(-1)?.traceId).toBe(seen.headers.traceparent?.split("-")[1]);
    }
  });

  it("puts sluice-store, sluice-origin and total in Server-Timing", async () => {
    const gw = gateway("durable-object", POLICY);
    const res = await gw.fetch("/api/timing");
    await res.body?.cancel();
    const timing = res.headers.get("server-timing") ?? "";
    expect(timing).toMatch(/sluice-store;dur=\d+/);
    expect(timing).toMatch(/sluice-origin;dur=\d+/);
    expect(timing).toMatch(/total;dur=\d+/);
  });

  it("marks a denial's log line with its trace too", async () => {
    const gw = gateway("durable-object", POLICY);
    await statuses(gw, 4, "/api/deny", { headers: { traceparent: parent } });
    expect(gw.events.at(-1)).toMatchObject({ outcome: "denied", traceId: parent.split("-")[1] });
  });
});

describe("Analytics Engine", () => {
  it("gets one data point per decided request, with the decision in its columns", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const dataset = { writeDataPoint: (p?: AnalyticsEngineDataPoint) => p && points.push(p) };
    const gw = gateway("durable-object", POLICY, {
      SLUICE_ANALYTICS: dataset as AnalyticsEngineDataset,
    });
    expect(await statuses(gw, 4, "/api/ae")).toEqual([200, 200, 200, 429]);
    await gw.fetch("/unmatched").then((r) => r.body?.cancel());
    expect(points).toHaveLength(4);
    expect(points[3]?.indexes).toEqual(["api"]);
    expect(points[3]?.blobs?.slice(0, 7)).toEqual([
      "denied",
      "api",
      "",
      "",
      "203.0.113.7",
      "GET",
      "/api/ae",
    ]);
    expect(points[3]?.blobs?.[9]).toBe("ip-1m");
    expect(points[3]?.doubles?.[4]).toBe(429);
    expect(points[0]?.doubles?.[5]).toBe(1);
  });
});

describe("alerts through the gateway", () => {
  it("log one sluice.alert for a denial spike, not one per denied request", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const gw = gateway("durable-object", {
        ...POLICY,
        alerts: { denials: { above: 0.5, within: "1m", minRequests: 6 } },
      });
      expect(await statuses(gw, 12, "/api/spike")).toEqual([
        ...Array(3).fill(200),
        ...Array(9).fill(429),
      ]);
      const alerts = log.mock.calls
        .map(([line]) => JSON.parse(String(line)) as { msg: string })
        .filter((l) => l.msg === "sluice.alert");
      expect(alerts).toEqual([
        expect.objectContaining({ alert: "denials", rule: "api", denied: 3, total: 6 }),
      ]);
    } finally {
      log.mockRestore();
    }
  });
});

describe.each(STORES)("alerts across isolates on %s", (store) => {
  it("tell a denial spike that two isolates see once", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const policy = {
        ...POLICY,
        prefix: uniquePrefix(),
        alerts: { denials: { above: 0.5, within: "1m", minRequests: 6 } },
      };
      const here = gateway(store, policy);
      const there = gateway(store, policy);
      const spike = [...Array(3).fill(200), ...Array(9).fill(429)];
      expect(await statuses(here, 12, "/api/spike")).toEqual(spike);
      expect(await statuses(there, 12, "/api/spike", { ip: "203.0.113.9" })).toEqual(spike);
      const alerts = log.mock.calls
        .map(([line]) => JSON.parse(String(line)) as { msg: string })
        .filter((l) => l.msg === "sluice.alert");
      expect(alerts).toEqual([expect.objectContaining({ alert: "denials", rule: "api" })]);
    } finally {
      log.mockRestore();
    }
  });
});

describe("alert claims", () => {
  it("on Redis: the first claim of an episode wins, the others lose while it holds", async () => {
    const redis = createUpstashClient(env.TEST_REDIS_URL, env.TEST_REDIS_TOKEN, 1000, {
      raw: true,
    });
    const prefix = uniquePrefix();
    const claims = new RedisMetricsStore(redis, prefix);
    expect(await claims.claimAlert('["denials","api"]', 60_000)).toBe(true);
    expect(await claims.claimAlert('["denials","api"]', 60_000)).toBe(false);
    expect(await claims.claimAlert('["denials","login"]', 60_000)).toBe(true);
    // Redis ends the hold itself.
    const ttl = Number(await redis.pttl(`${prefix}:~alert:["denials","api"]`));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it("in the SluiceMetrics object: the same, and a claim past its hold is given again", async () => {
    const claims = new DurableObjectMetricsStore(env.SLUICE_METRICS, uniquePrefix());
    const at = 1_780_000_000_000;
    expect(await claims.claimAlert('["denials","api"]', 60_000, at)).toBe(true);
    expect(await claims.claimAlert('["denials","api"]', 60_000, at + 59_999)).toBe(false);
    expect(await claims.claimAlert('["denials","login"]', 60_000, at + 1)).toBe(true);
    expect(await claims.claimAlert('["denials","api"]', 60_000, at + 60_000)).toBe(true);
  });
});

describe("the SluiceMetrics object", () => {
  it("adds all of a flush or none of it, so a flush sent again is not counted twice", async () => {
    const ns = env.SLUICE_METRICS as unknown as DurableObjectNamespace<SluiceMetrics>;
    const stub = ns.getByName(`${uniquePrefix()}:metrics`);
    const at = 1_780_000_000_000;
    // The counters go in first; the subject that is no number fails the statement after them.
    const bad = { add: [["requests", 3]], set: [], subjects: [["s", Number.NaN]] };
    expect((await stub.add(bad as never, at)).failed).toMatch(/NOT NULL/);
    expect(await stub.add({ add: [["requests", 3]], set: [], subjects: [["s", 1]] }, at)).toEqual(
      {},
    );
    const read = await stub.read(at);
    expect(read.add).toEqual({ requests: 3 });
    expect(read.subjects).toEqual({ s: 1 });
  });
});

describe("alerts to a webhook", () => {
  const SECRET = "webhook-secret-for-tests-0123";

  /** What README tells receivers to do: the HMAC-SHA256 of "<t>.<body>", compared in full. */
  async function signed(signature: string, body: string): Promise<boolean> {
    const parts = Object.fromEntries(signature.split(",").map((p) => p.split("=")));
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(SECRET),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign(
      "HMAC",
      key,
      new TextEncoder().encode(`${parts.t}.${body}`),
    );
    const hex = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
    return hex === parts.v1;
  }

  it("POST one signed alert per episode from the gateway, off the request's path", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      const tag = `hook-${Date.now()}`;
      const gw = gateway(
        "durable-object",
        { ...POLICY, alerts: { denials: { above: 0.5, within: "1m", minRequests: 6 } } },
        {
          SLUICE_ALERT_WEBHOOK_URL: `${env.ORIGIN_URL}/__hook?tag=${tag}`,
          SLUICE_ALERT_WEBHOOK_SECRET: SECRET,
        },
      );
      expect(await statuses(gw, 12, "/api/hook")).toEqual([
        ...Array(3).fill(200),
        ...Array(9).fill(429),
      ]);
      const received = async () =>
        (await (await fetch(`${env.ORIGIN_URL}/__hook?tag=${tag}`)).json()) as {
          signature: string;
          body: string;
        }[];
      await vi.waitFor(async () => expect(await received()).toHaveLength(1));
      const [hook] = await received();
      expect(JSON.parse(hook?.body ?? "")).toMatchObject({
        msg: "sluice.alert",
        alert: "denials",
        rule: "api",
      });
      expect(hook?.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(await signed(hook?.signature ?? "", hook?.body ?? "")).toBe(true);
      expect(await signed(hook?.signature ?? "", (hook?.body ?? "").replace("api", "apj"))).toBe(
        false,
      );
    } finally {
      log.mockRestore();
    }
  });
});

describe("policy canary", () => {
  const canary = JSON.stringify({
    version: "2",
    rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "1/min", by: "ip" }] }],
  });

  it("applies the canary to a stable share of subjects and logs both hashes on every line", async () => {
    const all = gateway("durable-object", POLICY, {
      SLUICE_POLICY_CANARY: canary,
      SLUICE_POLICY_CANARY_PERCENT: "100",
      SLUICE_ADMIN_TOKEN: TOKEN,
    });
    expect(await statuses(all, 2, "/api/c")).toEqual([200, 429]);
    const metrics = await (await all.fetch("/__sluice/admin/metrics", admin)).text();
    expect(metrics).toContain(
      'sluice_requests_total{outcome="denied",policy="canary",rule="api"} 1',
    );
    const line = all.events.at(-1);
    expect(line).toMatchObject({ policy: "canary", policyVersion: "2" });
    expect(line?.policyHash).toBe(line?.canaryPolicyHash);
    expect(line?.stablePolicyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(line?.stablePolicyHash).not.toBe(line?.canaryPolicyHash);

    const none = gateway("durable-object", POLICY, {
      SLUICE_POLICY_CANARY: canary,
      SLUICE_POLICY_CANARY_PERCENT: "0",
    });
    expect(await statuses(none, 2, "/api/c")).toEqual([200, 200]);
    expect(none.events.at(-1)).toMatchObject({
      policy: "stable",
      canaryPolicyHash: line?.canaryPolicyHash,
    });

    // 50 %: each address stays on its side, and both sides get some.
    const half = gateway("durable-object", POLICY, {
      SLUICE_POLICY_CANARY: canary,
      SLUICE_POLICY_CANARY_PERCENT: "50",
    });
    const sides = new Map<string, string>();
    for (let i = 1; i <= 20; i++) {
      for (let n = 0; n < 2; n++) {
        await half.fetch("/api/c", { ip: `198.51.100.${i}` }).then((r) => r.body?.cancel());
        const side = half.events.at(-1)?.policy ?? "";
        expect(sides.get(`${i}`) ?? side).toBe(side);
        sides.set(`${i}`, side);
      }
    }
    expect(new Set(sides.values())).toEqual(new Set(["stable", "canary"]));
  });

  it("refuses to serve with an invalid canary or percentage", async () => {
    const gw = gateway("durable-object", POLICY, {
      SLUICE_POLICY_CANARY: JSON.stringify({ rules: [] }),
      SLUICE_POLICY_CANARY_PERCENT: "150",
    });
    const res = await gw.fetch("/api/x");
    expect(res.status).toBe(500);
    const body = (await res.json()) as { errors: string[] };
    // Named by code and field only: the 500 never quotes a configured value.
    expect(body.errors).toContain("ERR_SLUICE_EMPTY at SLUICE_POLICY_CANARY.rules");
    expect(body.errors).toContain("ERR_SLUICE_CANARY_PERCENT at SLUICE_POLICY_CANARY_PERCENT");
  });
});
