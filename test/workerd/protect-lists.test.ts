/** @module test/workerd/protect-lists — allow, deny and exemption lists end to end: policy entries, runtime entries through the admin API, propagation, store calls. */
import { describe, expect, it } from "vitest";
import { LIST_REFRESH_MS } from "../../src/protect/screen.ts";
import type { EchoReply } from "../../tools/echo-origin.ts";
import {
  countedStore,
  gateway,
  STORES,
  type StoreKind,
  type TestGateway,
  uniquePrefix,
} from "./helpers.ts";

const TOKEN = "admin-token-for-tests-0123456789";

// biome-ignore lint/suspicious/noExplicitAny: tests read documented fields of untyped JSON answers.
type Body = Record<string, any>;

function admin(gw: TestGateway) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await gw.fetch(`/__sluice/admin${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        "sluice-actor": "alice",
        ...(body ? { "content-type": "application/json" } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Body };
  };
}

async function status(gw: TestGateway, path: string, init: RequestInit & { ip?: string } = {}) {
  const res = await gw.fetch(path, init);
  await res.body?.cancel();
  return res.status;
}

const LOGIN = { name: "login", match: { path: "/login" }, limits: [{ rate: "5/min" }] };

describe.each(STORES)("lists, %s store", (kind: StoreKind) => {
  it("refuse a deny-listed /24 with 403 problem+json on every route, before any rule", async () => {
    const blocked = `blocked-${uniquePrefix()}`;
    const gw = gateway(kind, {
      lists: { [blocked]: { action: "deny", ips: ["198.51.100.0/24", "2001:db8:bad::/48"] } },
      rules: [LOGIN, { name: "api", match: { path: "/api/*" }, limits: [{ rate: "100/min" }] }],
    });
    for (const path of ["/login", "/api/x", "/unmatched", "/"]) {
      for (const ip of ["198.51.100.0", "198.51.100.77", "198.51.100.255", "::ffff:198.51.100.9"]) {
        const res = await gw.fetch(path, { ip });
        expect([path, ip, res.status]).toEqual([path, ip, 403]);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        const body = (await res.json()) as Body;
        expect(body).toMatchObject({
          type: "https://sluice.dev/problems/deny-listed",
          status: 403,
        });
        // The client is not told which list it is on.
        expect(JSON.stringify(body)).not.toContain(blocked);
      }
    }
    expect(await status(gw, "/api/x", { ip: "2001:db8:bad:1::5" })).toBe(403);
    // Neighbours pass, on matched and unmatched routes alike.
    expect(await status(gw, "/login", { ip: "198.51.101.1" })).toBe(200);
    expect(await status(gw, "/unmatched", { ip: "198.51.99.255" })).toBe(200);
    expect(gw.events.find((e) => e.outcome === "deny-listed")).toMatchObject({
      rule: "login",
      list: blocked,
      ipKey: "198.51.100.0",
      limits: [],
    });
    // Refused before the rule: the login limit counted nothing for the /24.
    expect(
      gw.events.filter((e) => e.outcome === "allowed" && e.ipKey.startsWith("198.51.100.")),
    ).toEqual([]);
  });

  it("refuse countries on a deny list, from request.cf.country", async () => {
    const gw = gateway(kind, {
      lists: { [`embargo-${uniquePrefix()}`]: { action: "deny", countries: ["kp"] } },
      rules: [LOGIN],
    });
    const from = (country: string) => ({ cf: { country } }) as RequestInit;
    expect(await status(gw, "/login", from("KP"))).toBe(403);
    expect(await status(gw, "/anything", from("KP"))).toBe(403);
    expect(await status(gw, "/login", from("DE"))).toBe(200);
    expect(await status(gw, "/login")).toBe(200);
  });

  it("exempt allow-listed clients from every limit, and log them as exempt", async () => {
    const partners = `partners-${uniquePrefix()}`;
    const gw = gateway(kind, {
      lists: { [partners]: { action: "allow", ips: ["192.0.2.0/28"] } },
      limits: [{ rate: "2/min" }],
      rules: [{ ...LOGIN, limits: [{ rate: "1/min" }] }],
    });
    for (let i = 0; i < 5; i++) {
      const res = await gw.fetch("/login", { ip: "192.0.2.3" });
      expect(res.status).toBe(200);
      expect(res.headers.has("ratelimit")).toBe(false);
      expect(((await res.json()) as EchoReply).path).toBe("/login");
    }
    expect(gw.events.at(-1)).toMatchObject({ outcome: "exempt", rule: "login", list: partners });
    expect(await status(gw, "/login", { ip: "192.0.2.16" })).toBe(200);
    expect(await status(gw, "/login", { ip: "192.0.2.16" })).toBe(429);
  });

  it("let a rule's exempt list skip that rule's limits, not the application-wide ones", async () => {
    const office = `office-${uniquePrefix()}`;
    const gw = gateway(kind, {
      lists: { [office]: { ips: ["10.0.0.0/8"] } },
      limits: [{ rate: "3/min" }],
      rules: [{ ...LOGIN, limits: [{ rate: "1/min" }], exempt: [office] }],
    });
    const res = await gw.fetch("/login", { ip: "10.1.2.3" });
    expect(res.status).toBe(200);
    expect(res.headers.get("ratelimit-policy")).toBe('"app.ip-1m";q=3;w=60');
    expect(await status(gw, "/login", { ip: "10.1.2.3" })).toBe(200);
    expect(await status(gw, "/login", { ip: "10.1.2.3" })).toBe(200);
    const over = await gw.fetch("/login", { ip: "10.1.2.3" });
    expect(over.status).toBe(429);
    expect(((await over.json()) as Body).rule).toBe("*");
    expect(gw.events.at(-1)).toMatchObject({
      outcome: "denied",
      rule: "*",
      list: office,
      exemptFrom: "login",
    });
  });

  it("pass an exempt tenant through a tight rule untouched; others are limited", async () => {
    const id = uniquePrefix();
    const partners = `partners-${id}`;
    const gw = gateway(
      kind,
      {
        prefix: id,
        plans: { tiny: "1/min" },
        tenants: { namespace: `dir-${id}` },
        lists: { [partners]: { tenants: ["acme"] } },
        rules: [
          {
            name: "api",
            match: { path: "/api/*" },
            limits: [{ rate: "plan", by: "tenant" }],
            exempt: [partners],
          },
        ],
      },
      { SLUICE_ADMIN_TOKEN: TOKEN },
    );
    const api = admin(gw);
    const keyFor = async (tenant: string) => {
      expect((await api("POST", "/tenants", { id: tenant, plan: "tiny" })).status).toBe(201);
      return (await api("POST", "/keys", { tenant })).body.secret as string;
    };
    const acme = await keyFor("acme");
    const beta = await keyFor("beta");
    for (let i = 0; i < 10; i++) {
      const res = await gw.fetch("/api/x", { headers: { "x-api-key": acme } });
      expect(res.status).toBe(200);
      // Untouched: no limit was counted, so none is advertised; the origin still learns the tenant.
      expect(res.headers.has("ratelimit")).toBe(false);
      expect(((await res.json()) as EchoReply).headers["x-sluice-tenant"]).toBe("acme");
    }
    expect(gw.events.at(-1)).toMatchObject({ outcome: "exempt", tenant: "acme", list: partners });
    expect(await status(gw, "/api/x", { headers: { "x-api-key": beta } })).toBe(200);
    expect(await status(gw, "/api/x", { headers: { "x-api-key": beta } })).toBe(429);
    // The exemption is for members only: a key is still needed.
    expect(await status(gw, "/api/x")).toBe(401);
  });

  it("refuse a deny-listed tenant's keys with 403, and name other tenants in a rule's refusal", async () => {
    const id = uniquePrefix();
    const banned = `banned-${id}`;
    const gw = gateway(
      kind,
      {
        prefix: id,
        plans: { tiny: "1/min" },
        tenants: { namespace: `dir-${id}` },
        lists: { [banned]: { action: "deny", tenants: ["mallory"] } },
        rules: [
          {
            name: "api",
            match: { path: "/api/*" },
            limits: [{ rate: "plan", by: "tenant" }],
            response: { body: { error: "{tenant} is over {limit} on {rule}" } },
          },
        ],
      },
      { SLUICE_ADMIN_TOKEN: TOKEN },
    );
    const api = admin(gw);
    const keyFor = async (tenant: string) => {
      expect((await api("POST", "/tenants", { id: tenant, plan: "tiny" })).status).toBe(201);
      return (await api("POST", "/keys", { tenant })).body.secret as string;
    };
    const mallory = await keyFor("mallory");
    const acme = await keyFor("acme");
    const refused = await gw.fetch("/api/x", { headers: { "x-api-key": mallory } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(gw.events.at(-1)).toMatchObject({
      outcome: "deny-listed",
      tenant: "mallory",
      list: banned,
    });
    expect(await status(gw, "/api/x", { headers: { "x-api-key": acme } })).toBe(200);
    const over = await gw.fetch("/api/x", { headers: { "x-api-key": acme } });
    expect(over.status).toBe(429);
    expect(await over.json()).toEqual({ error: "acme is over tenant-1m on api" });
  });

  it("take runtime entries from the admin API: at once here, within the refresh interval elsewhere, audited", async () => {
    const blocked = `blocked-${uniquePrefix()}`;
    // A generous budget: a slow machine must not turn a background read into a retry.
    const policy = {
      lists: { [blocked]: { action: "deny" } },
      rules: [LOGIN],
      store: { timeoutMs: 2000 },
    };
    const a = gateway(kind, policy, { SLUICE_ADMIN_TOKEN: TOKEN });
    const b = gateway(kind, policy, { SLUICE_ADMIN_TOKEN: TOKEN });
    b.clock.now = a.clock.now;
    expect(await status(a, "/login", { ip: "203.0.113.50" })).toBe(200);
    expect(await status(b, "/login", { ip: "203.0.113.50" })).toBe(200);

    const added = await admin(a)("POST", `/lists/${blocked}`, {
      ip: "203.0.113.0/26",
      reason: "credential stuffing",
      expiresAt: new Date(a.clock.now + 3_600_000).toISOString(),
    });
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({
      added: 1,
      list: {
        name: blocked,
        action: "deny",
        entries: [
          { kind: "ip", value: "203.0.113.0/26", reason: "credential stuffing", actor: "alice" },
        ],
      },
    });
    expect(await status(a, "/login", { ip: "203.0.113.50" })).toBe(403);

    // Another isolate: unchanged until its refresh interval has passed, then refused.
    b.clock.advance(LIST_REFRESH_MS - 1);
    expect(await status(b, "/login", { ip: "203.0.113.50" })).toBe(200);
    b.clock.advance(1);
    await status(b, "/x", { ip: "192.0.2.1" }); // starts the background check
    expect(await status(b, "/login", { ip: "203.0.113.50" })).toBe(403);
    expect(await status(b, "/login", { ip: "203.0.113.64" })).toBe(200);

    const listed = await admin(b)("GET", `/lists/${blocked}`);
    expect(listed.body.list.entries).toHaveLength(1);
    const removed = await admin(a)("DELETE", `/lists/${blocked}?ip=203.0.113.0/26`);
    expect(removed).toMatchObject({ status: 200, body: { removed: 1, list: { entries: [] } } });
    expect(await status(a, "/login", { ip: "203.0.113.50" })).toBe(200);
    expect((await admin(a)("DELETE", `/lists/${blocked}?ip=203.0.113.0/26`)).status).toBe(404);

    const trail = await admin(a)("GET", "/audit?limit=2");
    expect(trail.body.entries.map((e: Body) => [e.action, e.target, e.actor])).toEqual([
      ["list.remove", `list:${blocked}`, "alice"],
      ["list.add", `list:${blocked}`, "alice"],
    ]);
  });

  it("drop a runtime entry when it expires", async () => {
    const blocked = `blocked-${uniquePrefix()}`;
    const gw = gateway(
      kind,
      { lists: { [blocked]: { action: "deny" } }, rules: [LOGIN] },
      { SLUICE_ADMIN_TOKEN: TOKEN },
    );
    const expiresAt = new Date(gw.clock.now + 60_000).toISOString();
    const r = await admin(gw)("POST", `/lists/${blocked}`, {
      ips: ["192.0.2.200"],
      reason: "1 min",
      expiresAt,
    });
    expect(r.status).toBe(200);
    expect(await status(gw, "/login", { ip: "192.0.2.200" })).toBe(403);
    gw.clock.advance(60_000);
    expect(await status(gw, "/login", { ip: "192.0.2.200" })).toBe(200);
  });

  it("refuse malformed entries and undeclared lists", async () => {
    const blocked = `blocked-${uniquePrefix()}`;
    const gw = gateway(
      kind,
      { lists: { [blocked]: { action: "deny" } }, rules: [LOGIN] },
      { SLUICE_ADMIN_TOKEN: TOKEN },
    );
    const api = admin(gw);
    const bad = await api("POST", `/lists/${blocked}`, { ip: "10.0.0.1/8", reason: "x" });
    expect(bad).toMatchObject({ status: 400, body: { field: "ip" } });
    expect(bad.body.detail).toContain('the range is \\"10.0.0.0/8\\"'.replaceAll("\\", ""));
    expect((await api("POST", `/lists/${blocked}`, { ip: "10.0.0.0/8" })).body.field).toBe(
      "reason",
    );
    expect((await api("POST", `/lists/${blocked}`, { tenant: "acme", reason: "x" })).status).toBe(
      400,
    );
    expect((await api("POST", "/lists/nope", { ip: "10.0.0.0/8", reason: "x" })).status).toBe(404);
  });
});

describe.each(STORES)("lists and store calls, %s store", (kind: StoreKind) => {
  it("cost no store call per request in steady state, and one small read per refresh interval", async () => {
    const store = countedStore(kind);
    const gw = gateway(
      kind,
      {
        lists: { [`blocked-${uniquePrefix()}`]: { action: "deny", ips: ["198.51.100.0/24"] } },
        rules: [LOGIN],
      },
      { ...store.env, SLUICE_METRICS_OFF: "1" },
    );
    expect(await status(gw, "/unmatched")).toBe(200); // the first request loads the entries
    const before = await store.calls();
    for (let i = 0; i < 20; i++) expect(await status(gw, "/unmatched")).toBe(200);
    expect(await status(gw, "/unmatched", { ip: "198.51.100.1" })).toBe(403);
    expect((await store.calls()) - before).toBe(0);
    gw.clock.advance(LIST_REFRESH_MS);
    expect(await status(gw, "/unmatched")).toBe(200);
    expect((await store.calls()) - before).toBe(1);
  });
});
