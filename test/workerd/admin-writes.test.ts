/** @module test/workerd/admin-writes — admin writes whose answer comes too late: applied, audited, and answered as such (audit F4, F14). */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { gateway, type TestGateway, uniquePrefix } from "./helpers.ts";

const TOKEN = "admin-token-for-write-tests-0123456789";

// biome-ignore lint/suspicious/noExplicitAny: tests read documented fields of untyped JSON answers.
type Body = Record<string, any>;

function call(gw: TestGateway, method: string, path: string, body?: unknown) {
  return gw
    .fetch(`/__sluice/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    .then(async (res) => ({ status: res.status, body: (await res.json()) as Body }));
}

/** The same policy, directory and counters, through a sound endpoint and one whose directory writes are answered after the budget. */
function pair() {
  const id = uniquePrefix();
  const policy = {
    prefix: id,
    store: { timeoutMs: 200 },
    plans: { pro: "100/s" },
    tenants: { namespace: `dir-${id}` },
    rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "3/min", by: "ip" }] }],
  };
  return {
    sound: gateway("redis", policy, { SLUICE_ADMIN_TOKEN: TOKEN }),
    late: gateway("redis", policy, {
      SLUICE_ADMIN_TOKEN: TOKEN,
      UPSTASH_REDIS_REST_URL: env.TEST_LATE_REDIS_URL,
    }),
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("an admin write answered after the budget", () => {
  it("is answered 503 mayHaveApplied with its target, logged, and did apply", async () => {
    const lines: Body[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      const text = String(line);
      if (text.includes("sluice.audit")) lines.push(JSON.parse(text));
    });
    const { sound, late } = pair();
    expect((await call(sound, "POST", "/tenants", { id: "acme", plan: "pro" })).status).toBe(201);

    const patched = await call(late, "PATCH", "/tenants/acme", { disabled: true });
    expect(patched.status).toBe(503);
    expect(patched.body).toMatchObject({ mayHaveApplied: true, target: "tenant:acme" });
    expect((await call(sound, "GET", "/tenants/acme")).body.tenant.disabled).toBe(true);

    const created = await call(late, "POST", "/keys", { tenant: "acme" });
    expect(created.status).toBe(503);
    expect(created.body.mayHaveApplied).toBe(true);
    const keyId = String(created.body.target).replace("key:", "");
    const keys = (await call(sound, "GET", "/keys?tenant=acme")).body.keys as Body[];
    expect(keys.map((k) => k.id)).toContain(keyId);

    const trail = (await call(sound, "GET", "/audit?limit=10")).body.entries as Body[];
    expect(trail.map((e) => e.action)).toEqual(["key.create", "tenant.update", "tenant.create"]);
    expect(lines.filter((l) => l.outcome === "unknown").map((l) => l.action)).toEqual([
      "tenant.update",
      "key.create",
    ]);
  });

  it("a reset whose audit entry is answered late resets nothing, and says so", async () => {
    const { sound, late } = pair();
    const ip = "203.0.113.77";
    for (let i = 0; i < 3; i++) await (await sound.fetch("/api/x", { ip })).body?.cancel();
    expect((await sound.fetch("/api/x", { ip })).status).toBe(429);

    const reset = await call(late, "POST", "/reset", { subject: `ip:${ip}` });
    expect(reset.status).toBe(503);
    expect(reset.body).toMatchObject({ mayHaveApplied: false });
    // The counters were not touched; the trail holds the attempt.
    expect((await sound.fetch("/api/x", { ip })).status).toBe(429);
    const trail = (await call(sound, "GET", "/audit?limit=5")).body.entries as Body[];
    expect(trail[0]).toMatchObject({ action: "subject.reset", target: `ip:${ip}` });

    const done = await call(sound, "POST", "/reset", { subject: `ip:${ip}` });
    expect(done.status).toBe(200);
    expect((await sound.fetch("/api/x", { ip })).status).toBe(200);
  });

  it("a write that fails before it is sent says nothing changed", async () => {
    const policy = {
      plans: { pro: "1/s" },
      tenants: {},
      rules: [{ name: "a", match: { path: "/a" }, limits: [{ rate: "1/s" }] }],
    };
    const down = gateway("redis", policy, {
      SLUICE_ADMIN_TOKEN: TOKEN,
      UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9",
    });
    const res = await call(down, "POST", "/tenants", { id: "beta", plan: "pro" });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ mayHaveApplied: false });
  });
});
