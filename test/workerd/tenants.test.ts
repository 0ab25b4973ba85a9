/** @module test/workerd/tenants — issued keys end to end: admin API, plans, overrides, revocation, secrecy. */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SluiceDirectory } from "../../src/stores/durable-object/document-store.ts";
import type { EchoReply } from "../../tools/echo-origin.ts";
import {
  gateway,
  randomKey,
  STORES,
  type StoreKind,
  type TestGateway,
  uniquePrefix,
} from "./helpers.ts";

const TOKEN = "admin-token-for-tests-0123456789";

// biome-ignore lint/suspicious/noExplicitAny: tests read documented fields of untyped JSON answers.
type Body = Record<string, any>;

function tenantPolicy(extra: Record<string, unknown> = {}) {
  const id = uniquePrefix();
  return {
    prefix: id,
    plans: { free: "3/min", pro: "50/min; 1000/day" },
    tenants: { namespace: `dir-${id}`, authFailures: "4/min", ...extra },
    rules: [
      {
        name: "api",
        match: { path: "/api/*" },
        limits: [{ rate: "plan", by: "tenant" }],
        onStoreError: "deny",
      },
    ],
  };
}

/** Admin calls against a test gateway. */
function admin(gw: TestGateway, token = TOKEN) {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await gw.fetch(`/__sluice/admin${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        "sluice-actor": "alice",
        ...(body ? { "content-type": "application/json" } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Body };
  };
  return {
    call,
    async tenant(id: string, plan: string) {
      const r = await call("POST", "/tenants", { id, plan });
      expect(r.status).toBe(201);
      return r.body.tenant;
    },
    async key(tenant: string, extra: Record<string, unknown> = {}) {
      const r = await call("POST", "/keys", { tenant, ...extra });
      expect(r.status).toBe(201);
      return r.body as { key: { id: string; prefix: string }; secret: string };
    },
  };
}

async function get(
  gw: TestGateway,
  path: string,
  key?: string,
  headers: Record<string, string> = {},
) {
  const res = await gw.fetch(path, {
    headers: { ...(key ? { "x-api-key": key } : {}), ...headers },
  });
  const body = res.headers.get("content-type")?.includes("json")
    ? await res.json()
    : await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: body as EchoReply & Body,
  };
}

function twoGateways(kind: StoreKind, policy: Record<string, unknown>) {
  const env = { SLUICE_ADMIN_TOKEN: TOKEN };
  return { a: gateway(kind, policy, env), b: gateway(kind, policy, env) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(STORES)("issued keys, %s store", (kind) => {
  it("live a full lifecycle: create, use, plan limit, override, revoke, 401", async () => {
    const gw = gateway(kind, tenantPolicy(), { SLUICE_ADMIN_TOKEN: TOKEN });
    const api = admin(gw);
    await api.tenant("acme", "free");
    const { key, secret } = await api.key("acme");
    expect(secret).toMatch(/^sk_live_[A-Za-z0-9_-]{43}$/);
    expect(key.prefix).toBe(secret.slice(0, 12));

    const first = await get(gw, "/api/x", secret);
    expect(first.status).toBe(200);
    expect(first.body.headers["x-sluice-tenant"]).toBe("acme");
    // The key is Sluice's credential: the origin gets the tenant id, never the secret.
    expect(first.body.headers["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(first.body)).not.toContain(secret);
    expect(first.headers.get("ratelimit-policy")).toBe('"tenant-1m";q=3;w=60');
    expect((await get(gw, "/api/x", secret)).status).toBe(200);
    expect((await get(gw, "/api/x", secret)).status).toBe(200);
    const limited = await get(gw, "/api/x", secret);
    expect(limited.status).toBe(429);
    expect(limited.body.rule).toBe("api");

    const o = await api.call("PUT", "/tenants/acme/overrides/1m", {
      rate: "6/min burst 12",
      reason: "launch week",
      expiresAt: new Date(gw.clock.now + 3_600_000).toISOString(),
    });
    expect(o.status).toBe(200);
    const raised = await get(gw, "/api/x", secret);
    expect(raised.status).toBe(200);
    // "6/min burst 12" advertises its burst: 12 per the 120 s that give it back.
    expect(raised.headers.get("ratelimit-policy")).toBe('"tenant-1m";q=12;w=120');
    expect(raised.headers.get("ratelimit")).toBe('"tenant-1m";r=5;t=10');

    // The override lapses by itself; counters carry over (same limit id).
    gw.clock.advance(3_600_001);
    expect((await get(gw, "/api/x", secret)).headers.get("ratelimit-policy")).toBe(
      '"tenant-1m";q=3;w=60',
    );

    // A plan change drops the old plan's overrides, and says so in the audit trail.
    await api.call("PUT", "/tenants/acme/overrides/1m", { rate: "9/min", reason: "trial" });
    const moved = await api.call("PATCH", "/tenants/acme", { plan: "pro" });
    expect(moved.body.tenant).toMatchObject({ plan: "pro", overrides: [] });
    const trail = await api.call("GET", "/audit?limit=1");
    expect(trail.body.entries[0].details).toEqual({
      plan: { from: "free", to: "pro" },
      overridesDropped: ["1m"],
    });
    const onPro = await get(gw, "/api/x", secret);
    expect(onPro.headers.get("ratelimit-policy")).toContain('"tenant-1m";q=50;w=60');

    expect((await api.call("POST", `/keys/${key.id}/revoke`)).status).toBe(200);
    const revoked = await get(gw, "/api/x", secret);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get("content-type")).toBe("application/problem+json");
    expect(gw.events.at(-1)).toMatchObject({ outcome: "unauthorized", keyProblem: "revoked" });
  });

  it("stop working in another isolate within the 30 s cache bound after revocation", async () => {
    const { a, b } = twoGateways(kind, tenantPolicy({ cacheTtlSeconds: 30 }));
    const api = admin(a);
    await api.tenant("acme", "pro");
    const { key, secret } = await api.key("acme");
    expect((await get(b, "/api/x", secret)).status).toBe(200); // b caches the key
    expect((await api.call("POST", `/keys/${key.id}/revoke`)).status).toBe(200);
    expect((await get(a, "/api/x", secret)).status).toBe(401); // the revoking isolate: at once

    b.clock.advance(29_999);
    expect((await get(b, "/api/x", secret)).status).toBe(200); // still inside the stated bound
    b.clock.advance(2);
    expect((await get(b, "/api/x", secret)).status).toBe(401);
  });

  it("refuse unknown, expired and disabled-tenant keys with problem+json", async () => {
    const gw = gateway(kind, tenantPolicy(), { SLUICE_ADMIN_TOKEN: TOKEN });
    const api = admin(gw);
    await api.tenant("acme", "pro");
    const unknown = await get(gw, "/api/x", randomKey());
    expect(unknown.status).toBe(401);
    expect(unknown.body.type).toBe("https://sluice.dev/problems/unauthorized");
    expect(gw.events.at(-1)?.keyProblem).toBe("unknown");
    // A key that cannot have been issued gets the same answer; only the log tells them apart.
    const malformed = await get(gw, "/api/x", "sk_live_not-a-real-key");
    expect(malformed.status).toBe(401);
    expect(malformed.body).toEqual(unknown.body);
    expect(gw.events.at(-1)?.keyProblem).toBe("malformed");
    expect((await get(gw, "/api/x")).status).toBe(401); // no key at all

    const { secret } = await api.key("acme", {
      expiresAt: new Date(gw.clock.now + 60_000).toISOString(),
    });
    expect((await get(gw, "/api/x", secret)).status).toBe(200);
    gw.clock.advance(60_000);
    expect((await get(gw, "/api/x", secret)).status).toBe(401);
    expect(gw.events.at(-1)?.keyProblem).toBe("expired");

    const other = await api.key("acme");
    expect((await api.call("PATCH", "/tenants/acme", { disabled: true })).status).toBe(200);
    const disabled = await get(gw, "/api/x", other.secret);
    expect(disabled.status).toBe(403);
    expect(disabled.body.type).toBe("https://sluice.dev/problems/forbidden");
  });

  it("lock out an address that keeps guessing keys, and spare its neighbours", async () => {
    const gw = gateway(kind, tenantPolicy({ authFailures: "4/min" }), {
      SLUICE_ADMIN_TOKEN: TOKEN,
    });
    const guess = (ip: string) => gw.fetch("/api/x", { ip, headers: { "x-api-key": randomKey() } });
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await guess("198.51.100.9")).status);
    expect(codes).toEqual([401, 401, 401, 401, 429, 429, 429, 429]);
    const locked = await guess("198.51.100.9");
    expect(locked.headers.get("retry-after")).toBe("15");
    const body = (await locked.json()) as { type: string; rule?: string };
    expect(body.type).toBe("https://sluice.dev/problems/too-many-key-attempts");
    // Sluice's own counter is not a rule the client could look up.
    expect(body.rule).toBeUndefined();
    expect((await guess("198.51.100.10")).status).toBe(401);
    gw.clock.advance(15_000);
    expect((await guess("198.51.100.9")).status).toBe(401);
  });

  it("forward the tenant id in its header and drop any client-sent copy", async () => {
    const gw = gateway(kind, tenantPolicy(), { SLUICE_ADMIN_TOKEN: TOKEN });
    const api = admin(gw);
    await api.tenant("acme", "pro");
    const { secret } = await api.key("acme");
    // Every spelling a CGI-style origin reads as the tenant header (audit F2).
    const spoof = {
      "x-sluice-tenant": "megacorp",
      X_Sluice_Tenant: "megacorp",
      "x-sluice_tenant": "megacorp",
      "X.Sluice.Tenant": "megacorp",
    };
    const limited = await get(gw, "/api/x", secret, spoof);
    expect(limited.body.headers["x-sluice-tenant"]).toBe("acme");
    expect(JSON.stringify(limited.body.headers)).not.toContain("megacorp");
    const open = await get(gw, "/elsewhere", secret, spoof);
    expect(open.status).toBe(200);
    expect(open.body.headers["x-sluice-tenant"]).toBeUndefined();
    expect(JSON.stringify(open.body.headers)).not.toContain("megacorp");
  });

  it("keep the key from the origin, whichever header carried it", async () => {
    const policy = tenantPolicy();
    const withBearer = {
      ...policy,
      identity: { apiKey: { header: "x-api-key", bearer: true } },
    };
    const gw = gateway(kind, withBearer, { SLUICE_ADMIN_TOKEN: TOKEN });
    const api = admin(gw);
    await api.tenant("acme", "pro");
    const { secret } = await api.key("acme");
    const bearer = await get(gw, "/api/x", undefined, { authorization: `Bearer ${secret}` });
    expect(bearer.status).toBe(200);
    expect(bearer.body.headers["x-sluice-tenant"]).toBe("acme");
    expect(bearer.body.headers.authorization).toBeUndefined();
    expect(JSON.stringify(bearer.body)).not.toContain(secret);
    // The header wins when both are sent: the origin's own credential passes through.
    const both = await get(gw, "/api/x", secret, { authorization: "Basic b3JpZ2luOmNyZWQ=" });
    expect(both.status).toBe(200);
    expect(both.body.headers["x-api-key"]).toBeUndefined();
    expect(both.body.headers.authorization).toBe("Basic b3JpZ2luOmNyZWQ=");
    // The key in both places: neither copy reaches the origin.
    const twice = await get(gw, "/api/x", secret, { authorization: `Bearer ${secret}` });
    expect(twice.status).toBe(200);
    expect(JSON.stringify(twice.body)).not.toContain(secret);
    // A look-alike spelling of the key header carries the secret no further either.
    const lookalike = await get(gw, "/elsewhere", undefined, { X_API_Key: secret });
    expect(JSON.stringify(lookalike.body)).not.toContain(secret);
    // A bearer token of the origin's own, on a route no key limit reads, passes untouched.
    const own = await get(gw, "/elsewhere", undefined, {
      authorization: "Bearer origin-session-1",
    });
    expect(own.body.headers.authorization).toBe("Bearer origin-session-1");
  });

  it("never store, log or list a key's secret", async () => {
    const logged: string[] = [];
    for (const level of ["log", "info", "warn", "error"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logged.push(args.map(String).join(" "));
      });
    }
    const policy = tenantPolicy();
    const gw = gateway(kind, policy, { SLUICE_ADMIN_TOKEN: TOKEN });
    const api = admin(gw);
    await api.tenant("acme", "free");
    const { key, secret } = await api.key("acme");
    for (let i = 0; i < 5; i++) await get(gw, "/api/x", secret);
    await api.call("POST", `/keys/${key.id}/revoke`);
    await get(gw, "/api/x", secret);

    const visible = [
      JSON.stringify(gw.events),
      logged.join("\n"),
      JSON.stringify((await api.call("GET", "/keys")).body),
      JSON.stringify((await api.call("GET", "/keys?tenant=acme")).body),
      JSON.stringify((await api.call("GET", "/audit")).body),
      JSON.stringify((await api.call("GET", "/tenants")).body),
      await storedText(kind, policy.tenants.namespace, policy.prefix),
    ];
    expect(logged.some((l) => l.includes('"msg":"sluice.audit"'))).toBe(true);
    expect(visible[6]).toContain(key.id); // the dump did read the directory
    const secretPart = secret.slice(12); // everything past the display prefix
    for (const text of visible) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secretPart);
    }
  });
});

/** Every key and value the store holds for this test (Redis) or the whole directory object. */
async function storedText(kind: StoreKind, namespace: string, prefix: string): Promise<string> {
  if (kind === "redis") {
    const call = async (...command: string[]) => {
      const res = await fetch(env.TEST_REDIS_URL, {
        method: "POST",
        headers: { authorization: `Bearer ${env.TEST_REDIS_TOKEN}` },
        body: JSON.stringify(command),
      });
      return ((await res.json()) as { result: unknown }).result;
    };
    const keys = [
      ...((await call("KEYS", `${namespace}:*`)) as string[]),
      ...((await call("KEYS", `${prefix}:*`)) as string[]),
    ];
    const parts: string[] = [];
    for (const k of keys) {
      const type = (await call("TYPE", k)) as string;
      const value =
        type === "string"
          ? await call("GET", k)
          : type === "set"
            ? await call("SMEMBERS", k)
            : await call("LRANGE", k, "0", "-1");
      parts.push(k, JSON.stringify(value));
    }
    return parts.join("\n");
  }
  const ns = env.SLUICE_DIRECTORY as unknown as DurableObjectNamespace<SluiceDirectory>;
  const stub = ns.get(ns.idFromName("directory"));
  return runInDurableObject(stub, (_obj, state) =>
    ["docs", "sets", "lists"]
      .map((t) => JSON.stringify(state.storage.sql.exec(`SELECT * FROM ${t}`).toArray()))
      .join("\n"),
  );
}

describe.each(STORES)("the admin API, %s store", (kind) => {
  it("is absent without SLUICE_ADMIN_TOKEN and refuses missing or wrong tokens", async () => {
    const off = gateway(kind, tenantPolicy());
    expect((await off.fetch("/__sluice/admin/tenants")).status).toBe(404);
    const empty = gateway(kind, tenantPolicy(), { SLUICE_ADMIN_TOKEN: "" });
    expect((await empty.fetch("/__sluice/admin/tenants")).status).toBe(404);
    expect(
      (await empty.fetch("/__sluice/admin/tenants", { headers: { authorization: "Bearer " } }))
        .status,
    ).toBe(404);

    const gw = gateway(kind, tenantPolicy(), { SLUICE_ADMIN_TOKEN: TOKEN });
    const none = await gw.fetch("/__sluice/admin/tenants");
    expect(none.status).toBe(401);
    expect((await gw.fetch("/__sluice/admin")).status).toBe(401);
    const emptyBearer = { headers: { authorization: "Bearer " } };
    expect((await gw.fetch("/__sluice/admin/tenants", emptyBearer)).status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="sluice-admin"');
    expect((await admin(gw, `${TOKEN}x`).call("GET", "/tenants")).status).toBe(401);
    expect((await admin(gw, TOKEN.slice(0, -1)).call("GET", "/tenants")).status).toBe(401);
    const ok = await admin(gw).call("GET", "/tenants");
    expect(ok).toEqual({ status: 200, body: { tenants: [] } });
  });

  it("locks out an address guessing the admin token, logs each guess, and still admits the token", async () => {
    const logged = vi.spyOn(console, "log").mockImplementation(() => {});
    const gw = gateway(kind, tenantPolicy(), { SLUICE_ADMIN_TOKEN: TOKEN });
    const guess = (ip: string) =>
      gw.fetch("/__sluice/admin/tenants", { ip, headers: { authorization: "Bearer guess" } });
    for (let i = 0; i < 10; i++) expect((await guess("198.51.100.9")).status).toBe(401);
    const locked = await guess("198.51.100.9");
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    const lockedBody = (await locked.json()) as Body;
    expect(lockedBody.detail).toContain("invalid admin tokens");
    // Sluice's own counter is not a rule a client could look up.
    expect(lockedBody.rule).toBeUndefined();
    // Another address is not locked out; the right token passes even from the locked one.
    expect((await guess("198.51.100.10")).status).toBe(401);
    const right = await gw.fetch("/__sluice/admin/tenants", {
      ip: "198.51.100.9",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(right.status).toBe(200);
    const failures = logged.mock.calls
      .map((args) => JSON.parse(String(args[0])) as Body)
      .filter((line) => line.action === "auth.failed");
    expect(failures).toHaveLength(12);
    expect(failures[0]).toMatchObject({
      msg: "sluice.audit",
      actor: "unauthenticated",
      ip: "198.51.100.9",
      target: "admin",
    });
    expect(JSON.stringify(failures)).not.toContain("guess");
    // Failed guesses are logged, not stored: a guesser cannot flood the audit trail.
    const trail = await admin(gw).call("GET", "/audit");
    expect(trail.body.entries).toEqual([]);
    // Locked out, further guesses are neither logged nor counted.
    expect((await guess("198.51.100.9")).status).toBe(429);
    expect(
      logged.mock.calls.filter((args) => String(args[0]).includes("auth.failed")),
    ).toHaveLength(12);
    // Resetting the address lifts the lockout, in memory and in the store.
    const reset = await admin(gw).call("POST", "/reset", { subject: "ip:198.51.100.9" });
    expect(reset.status).toBe(200);
    expect((await guess("198.51.100.9")).status).toBe(401);
  });

  it("keeps the admin API off with a token shorter than 32 characters, and nothing else", async () => {
    const gw = gateway(kind, tenantPolicy(), { SLUICE_ADMIN_TOKEN: "short-token" });
    const res = await gw.fetch("/__sluice/admin/tenants", {
      headers: { authorization: "Bearer short-token" },
    });
    expect(res.status).toBe(503);
    const body = JSON.stringify(await res.json());
    expect(body).toContain("SLUICE_ADMIN_TOKEN is shorter than 32 characters");
    expect(body).not.toContain("11");
    // Traffic still flows.
    expect((await gw.fetch("/elsewhere")).status).toBe(200);
  });

  it("keeps the admin API off with a long token that is easy to guess", async () => {
    const weak = "a".repeat(40);
    const gw = gateway(kind, tenantPolicy(), { SLUICE_ADMIN_TOKEN: weak });
    const res = await gw.fetch("/__sluice/admin/tenants", {
      headers: { authorization: `Bearer ${weak}` },
    });
    expect(res.status).toBe(503);
    expect(JSON.stringify(await res.json())).toContain("SLUICE_ADMIN_TOKEN is too easy to guess");
    expect((await gw.fetch("/elsewhere")).status).toBe(200);
  });

  it("validates input, naming the field", async () => {
    const api = admin(gateway(kind, tenantPolicy(), { SLUICE_ADMIN_TOKEN: TOKEN }));
    const bad = await api.call("POST", "/tenants", { id: "Acme Inc", plan: "free" });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe("id");
    expect((await api.call("POST", "/tenants", { id: "acme", plan: "gold" })).body.detail).toBe(
      'plan: unknown plan "gold"; the policy offers free, pro',
    );
    await api.tenant("acme", "free");
    expect((await api.call("POST", "/tenants", { id: "acme", plan: "free" })).status).toBe(409);
    const override = await api.call("PUT", "/tenants/acme/overrides/1h", {
      rate: "5/h",
      reason: "x",
    });
    expect(override.body.detail).toBe('limit: plan "free" has no rate "1h"; its rates are 1m');
    const period = await api.call("PUT", "/tenants/acme/overrides/1m", {
      rate: "10/hour",
      reason: "x",
    });
    expect(period.status).toBe(400);
    expect(period.body.detail).toBe(
      'rate: an override of "1m" keeps its period; expected a rate per 1m, like "6/1m"',
    );
    expect((await api.call("POST", "/keys", { tenant: "nobody" })).status).toBe(404);
    expect((await api.call("POST", "/keys/0123456789abcdef/revoke")).status).toBe(404);
    expect((await api.call("GET", "/usage?subject=user:1")).status).toBe(400);
  });

  it("answers a wrong method with 405 and Allow, an unknown path with 404", async () => {
    const gw = gateway(kind, tenantPolicy(), { SLUICE_ADMIN_TOKEN: TOKEN });
    const wrong = await gw.fetch("/__sluice/admin/tenants", {
      method: "DELETE",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    // RFC 9110 §15.5.6: a 405 carries Allow.
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, HEAD, POST");
    expect(wrong.headers.get("content-type")).toBe("application/problem+json");
    expect(((await wrong.json()) as Body).detail).toBe(
      "This admin resource does not take DELETE; it takes GET, HEAD, POST.",
    );
    const api = admin(gw);
    const override = await api.call("POST", "/tenants/acme/overrides/1m");
    expect(override.status).toBe(405);
    expect((await api.call("GET", "/tenants/acme/overrides")).status).toBe(404);
    expect((await api.call("PUT", "/keys")).status).toBe(405);
    expect((await api.call("GET", "/nothing-here")).status).toBe(404);
    // Without the token, nothing about the API's shape is told.
    const anonymous = await gw.fetch("/__sluice/admin/tenants", { method: "DELETE" });
    expect(anonymous.status).toBe(401);
  });

  it("reads a subject's usage without consuming, resets it, and audits every change", async () => {
    const gw = gateway(
      kind,
      {
        ...tenantPolicy(),
        rules: [
          {
            name: "api",
            match: { path: "/api/*" },
            limits: [
              { rate: "plan", by: "tenant" },
              { rate: "10/min", by: "ip" },
            ],
          },
        ],
      },
      { SLUICE_ADMIN_TOKEN: TOKEN },
    );
    const api = admin(gw);
    await api.tenant("acme", "pro");
    const { key, secret } = await api.key("acme");
    for (let i = 0; i < 2; i++) await get(gw, "/api/x", secret);

    const usage = async (subject: string) =>
      (await api.call("GET", `/usage?subject=${encodeURIComponent(subject)}`)).body;
    const tenantUsage = await usage("tenant:acme");
    expect(
      tenantUsage.limits.map((l: { limit: string; remaining: number }) => [l.limit, l.remaining]),
    ).toEqual([
      ["tenant-1m", 48],
      ["tenant-1d", 998],
    ]);
    expect(await usage("tenant:acme")).toEqual(tenantUsage); // peeking consumed nothing
    // Failed key and admin-token attempts are counted per address too (none yet).
    expect((await usage("ip:203.0.113.7")).limits).toMatchObject([
      { rule: "__auth", limit: "failures", count: 4, remaining: 4, internal: "failed API keys" },
      { rule: "__admin_auth", limit: "failures", count: 10, internal: "failed admin tokens" },
      { rule: "api", limit: "ip-1m", count: 10, burst: 10, remaining: 8 },
    ]);
    // The key has no counters of its own: the answer says what counts its requests.
    expect(await usage(`key:${key.id}`)).toEqual({
      subject: `key:${key.id}`,
      limits: [],
      elsewhere: [
        { by: "tenant", rules: ["api"], subject: "tenant:acme" },
        { by: "ip", rules: ["api"] },
      ],
    });

    const reset = await api.call("POST", "/reset", { subject: "tenant:acme" });
    expect(reset).toEqual({ status: 200, body: { subject: "tenant:acme", cleared: 2 } });
    expect((await usage("tenant:acme")).limits[0].remaining).toBe(50);

    const audit = (await api.call("GET", "/audit")).body.entries as Array<Record<string, unknown>>;
    expect(audit.map((e) => e.action)).toEqual(["subject.reset", "key.create", "tenant.create"]);
    expect(audit[1]).toMatchObject({
      actor: "alice",
      ip: "203.0.113.7",
      target: `key:${key.id}`,
      details: { tenant: "acme", prefix: key.prefix },
    });
  });
});
