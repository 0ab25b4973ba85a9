import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SluiceEnv } from "../../src/gateway/env.ts";
import { CONFIG_FIELDS, RuntimeCache } from "../../src/gateway/runtime.ts";
import { gateway, LOGIN_POLICY, STORES } from "./helpers.ts";

describe.each(STORES)("health on the %s store", (store) => {
  it("reports the store reachable and the policy's version and hash", async () => {
    const gw = gateway(store, LOGIN_POLICY);
    const res = await gw.fetch("/__sluice/health");
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      policy: { version: string; hash: string };
      store: unknown;
    };
    expect(body.status).toBe("ok");
    expect(body.policy.version).toBe("test-1");
    expect(body.policy.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(body.store).toMatchObject({ kind: store, reachable: true });
  });
});

describe("an invalid policy", () => {
  it("is never half-applied: every request gets a 500 naming the field", async () => {
    const bad = JSON.stringify({
      rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "10/fortnight" }] }],
    });
    const gw = gateway("durable-object", LOGIN_POLICY, { SLUICE_POLICY: bad });
    for (const path of ["/api/x", "/other", "/__sluice/health"]) {
      const res = await gw.fetch(path);
      expect(res.status).toBe(500);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(JSON.stringify(await res.json())).toContain("rules[0].limits[0].rate");
    }
  });

  it("reports unparseable SLUICE_POLICY JSON", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY, { SLUICE_POLICY: "{nope" });
    const res = await gw.fetch("/x");
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).toContain("SLUICE_POLICY");
  });

  it("refuses a missing ORIGIN_URL", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY, { ORIGIN_URL: "" });
    const res = await gw.fetch("/x");
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).toContain("ORIGIN_URL");
  });
});

describe("a malformed environment (audit F5, F15)", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Every path answers 500 naming `field`; the log says why once; no value is echoed. */
  async function refusedEverywhere(over: Record<string, string>, field: string, secret: string) {
    const logged: string[] = [];
    vi.spyOn(console, "error").mockImplementation((line: unknown) => {
      logged.push(String(line));
    });
    const gw = gateway("durable-object", LOGIN_POLICY, {
      SLUICE_ADMIN_TOKEN: "admin-token-for-config-tests-0123456789",
      ...over,
    });
    for (const path of ["/x", "/__sluice/health", "/__sluice/admin/tenants"]) {
      const res = await gw.fetch(path);
      expect(res.status, path).toBe(500);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      const body = await res.text();
      expect(body).toContain(field);
      expect(body).not.toContain(secret);
    }
    const lines = logged.filter((l) => l.includes("sluice.config_invalid"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(field);
    expect(lines[0]).not.toContain(secret);
  }

  it("names a redis:// URL given as UPSTASH_REDIS_REST_URL, without echoing it", async () => {
    await refusedEverywhere(
      {
        UPSTASH_REDIS_REST_URL: "rediss://default:AbCdSecret@eu1-example.upstash.io:6379",
        UPSTASH_REDIS_REST_TOKEN: "AbCdSecret",
      },
      "ERR_SLUICE_REDIS_URL at UPSTASH_REDIS_REST_URL",
      "AbCdSecret",
    );
  });

  it("names an UPSTASH_REDIS_REST_URL that is not a URL at all", async () => {
    await refusedEverywhere(
      { UPSTASH_REDIS_REST_URL: "not a url s3cr3t", UPSTASH_REDIS_REST_TOKEN: "t" },
      "ERR_SLUICE_REDIS_URL at UPSTASH_REDIS_REST_URL",
      "s3cr3t",
    );
  });

  it("names a malformed ORIGIN_URL, without its value", async () => {
    await refusedEverywhere(
      { ORIGIN_URL: "api.internal.corp/v1?key=s3cr3t-origin-key" },
      "ERR_SLUICE_ORIGIN_URL at ORIGIN_URL",
      "s3cr3t",
    );
    await refusedEverywhere(
      { ORIGIN_URL: "https://api.internal.corp/v1?key=s3cr3t-origin-key" },
      "ERR_SLUICE_ORIGIN_URL at ORIGIN_URL",
      "s3cr3t",
    );
  });

  it("names SLUICE_POLICY that is not JSON, without quoting it", async () => {
    await refusedEverywhere(
      { SLUICE_POLICY: '{"rules": secretvalue}' },
      "ERR_SLUICE_POLICY_JSON at SLUICE_POLICY",
      "secretval",
    );
  });

  it("names a policy field without its value", async () => {
    const bad = JSON.stringify({
      rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "10/s3cr3tunit" }] }],
    });
    await refusedEverywhere(
      { SLUICE_POLICY: bad },
      " at rules[0].limits[0].rate",
      "s3cr3tunit-in-a-client-body",
    );
    const gw = gateway("durable-object", LOGIN_POLICY, { SLUICE_POLICY: bad });
    expect(await (await gw.fetch("/x")).text()).not.toContain("s3cr3tunit");
  });
});

describe("the deployed entry point", () => {
  it("serves the bundled policy on the Durable Object store by default", async () => {
    expect(env.ORIGIN_URL).toMatch(/^http:\/\/127\.0\.0\.1:/);
    const res = await exports.default.fetch("https://gateway.test/__sluice/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ store: { kind: "durable-object", reachable: true } });
    const proxied = await exports.default.fetch("https://gateway.test/hello?x=1", {
      headers: { "cf-connecting-ip": "192.0.2.10" },
    });
    expect(proxied.status).toBe(200);
    expect(await proxied.json()).toMatchObject({ path: "/hello", query: "?x=1" });
  });

  it("returns 404 problem+json for unknown reserved paths", async () => {
    const res = await exports.default.fetch("https://gateway.test/__sluice/nope");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});

describe("health views (audit F7)", () => {
  const down = {
    UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9",
    SLUICE_ADMIN_TOKEN: "admin-token-for-health-tests-0123456789",
  };

  it("tell anyone only whether the store is reachable", async () => {
    const gw = gateway("redis", LOGIN_POLICY, down);
    const res = await gw.fetch("/__sluice/health");
    expect(res.status).toBe(503);
    const body = (await res.json()) as { store: Record<string, unknown> };
    expect(Object.keys(body.store).sort()).toEqual(["kind", "latencyMs", "reachable"]);
    expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|error/i);
  });

  it("give admins the store's error and when it was probed", async () => {
    const gw = gateway("redis", LOGIN_POLICY, down);
    const anon = await gw.fetch("/__sluice/admin/health");
    expect(anon.status).toBe(401);
    const res = await gw.fetch("/__sluice/admin/health", {
      headers: { authorization: `Bearer ${down.SLUICE_ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { store: Record<string, unknown> };
    expect(body.store).toMatchObject({ kind: "redis", reachable: false });
    expect(String(body.store.error)).toMatch(/store call failed/);
    expect(body.store.checkedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("answer from the last probe within the second", async () => {
    const gw = gateway("durable-object", LOGIN_POLICY);
    const first = (await (await gw.fetch("/__sluice/health")).json()) as { store: unknown };
    for (let i = 0; i < 20; i++) {
      expect(await (await gw.fetch("/__sluice/health")).json()).toEqual(first);
    }
  });
});

describe("the runtime cache", () => {
  const options = {
    bundledPolicy: LOGIN_POLICY,
    clock: Date.now,
    sink: undefined,
    hold: undefined,
  };
  const base = { ORIGIN_URL: "https://origin.example", SLUICE_METRICS_OFF: "1" } as SluiceEnv;

  it("gives env objects with equal config one runtime, and a config that differs in any field its own", async () => {
    const runtimes = new RuntimeCache(options);
    const first = runtimes.get({ ...base });
    expect(runtimes.get({ ...base })).toBe(first);
    const seen = new Set([first]);
    for (const field of CONFIG_FIELDS) {
      const other = runtimes.get({ ...base, [field]: `${base[field] ?? ""}changed` });
      expect(seen.has(other), field).toBe(false);
      seen.add(other);
    }
    await Promise.all(seen);
  });

  it("answers a known env object without building its key again", async () => {
    const runtimes = new RuntimeCache(options);
    const known = { ...base };
    const first = runtimes.get(known);
    // Changed in place, the object still finds its runtime: env does not change in an isolate.
    known.ORIGIN_URL = "https://elsewhere.example";
    expect(runtimes.get(known)).toBe(first);
    await first;
  });
});
