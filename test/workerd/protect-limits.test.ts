/** @module test/workerd/protect-limits — escalating bans, shared limits, application-wide limits and custom refusals, end to end on both stores. */
import { describe, expect, it } from "vitest";
import {
  countedStore,
  gateway,
  STORES,
  type StoreKind,
  statuses,
  type TestGateway,
  uniquePrefix,
} from "./helpers.ts";

const TOKEN = "admin-token-for-tests-0123456789";
const MIN = 60_000;

// biome-ignore lint/suspicious/noExplicitAny: tests read documented fields of untyped JSON answers.
type Body = Record<string, any>;

function admin(gw: TestGateway) {
  return async (method: string, path: string) => {
    const res = await gw.fetch(`/__sluice/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "sluice-actor": "bob" },
    });
    return { status: res.status, body: (await res.json()) as Body };
  };
}

const BANNED_LOGIN = {
  rules: [
    {
      name: "login",
      match: { path: "/login", methods: ["POST"] },
      limits: [{ rate: "5/min" }],
      ban: { after: 3, within: "1m", for: "10m", escalate: 2, max: "1h" },
    },
  ],
};
const post = { method: "POST" } as const;

describe.each(STORES)("bans, %s store", (kind: StoreKind) => {
  it("ban a client hammering a 5/min rule for 10, then 20, 40 and 60 minutes; lifting restores it at once", async () => {
    const gw = gateway(kind, BANNED_LOGIN, { SLUICE_ADMIN_TOKEN: TOKEN });
    const bans: number[] = [];
    for (let round = 0; round < 4; round++) {
      // The limit's five, two plain denials (strikes), then the third strike bans.
      expect(await statuses(gw, 7, "/login", post)).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const banned = await gw.fetch("/login", post);
      expect(banned.status).toBe(429);
      const seconds = Number(banned.headers.get("retry-after"));
      bans.push(seconds / 60);
      expect(gw.events.at(-1)).toMatchObject({
        outcome: "banned",
        rule: "login",
        ban: { level: round + 1, untilMs: gw.clock.now + seconds * 1000, started: true },
      });
      // While banned: 429 with the exact time left, the limit untouched.
      gw.clock.advance(seconds * 1000 - 1500);
      const during = await gw.fetch("/login", post);
      expect(during.status).toBe(429);
      expect(during.headers.get("retry-after")).toBe("2");
      expect(during.headers.get("ratelimit")).toBe('"ip-1m";r=0;t=2');
      expect(((await during.json()) as Body).rule).toBe("login");
      expect(gw.events.at(-1)).toMatchObject({
        outcome: "banned",
        ban: { level: round + 1, started: false },
      });
      gw.clock.advance(1500 + MIN);
    }
    expect(bans).toEqual([10, 20, 40, 60]);

    // Banned once more (capped at an hour), listed, then lifted.
    await statuses(gw, 8, "/login", post);
    expect((await gw.fetch("/login", post)).headers.get("retry-after")).toBe("3600");
    const api = admin(gw);
    const listed = await api("GET", "/bans");
    expect(listed.body.bans).toEqual([
      {
        rule: "login",
        subject: "ip:203.0.113.7",
        level: 5,
        until: new Date(gw.clock.now + 3_600_000).toISOString(),
        retryAfter: 3600,
      },
    ]);
    const lifted = await api("DELETE", `/bans/${encodeURIComponent("ip:203.0.113.7")}`);
    expect(lifted).toMatchObject({ status: 200, body: { lifted: [{ rule: "login", level: 5 }] } });
    // At once in this isolate: its memory of the ban is gone with the store's.
    expect(await statuses(gw, 1, "/login", post)).toEqual([200]);
    expect((await api("GET", "/bans")).body.bans).toEqual([]);
    expect((await api("DELETE", "/bans/ip:203.0.113.7")).status).toBe(404);
    const trail = await api("GET", "/audit?limit=1");
    expect(trail.body.entries[0]).toMatchObject({
      action: "ban.lift",
      target: "ip:203.0.113.7",
      actor: "bob",
    });
  });

  it("list and lift a ban of a rule placed with others (application-wide and shared limits)", async () => {
    const [login] = BANNED_LOGIN.rules as [(typeof BANNED_LOGIN.rules)[number]];
    const gw = gateway(
      kind,
      {
        limits: [{ rate: "1000/min" }],
        rules: [
          { ...login, limits: [...login.limits, { rate: "100/h", shared: "auth" }] },
          {
            name: "signup",
            match: { path: "/signup" },
            limits: [{ rate: "100/h", shared: "auth" }],
            ban: login.ban,
          },
        ],
      },
      { SLUICE_ADMIN_TOKEN: TOKEN },
    );
    expect(await statuses(gw, 8, "/login", post)).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(gw.events.at(-1)).toMatchObject({ outcome: "banned", rule: "login" });
    const api = admin(gw);
    const listed = await api("GET", "/bans");
    expect(listed.body.bans).toMatchObject([
      { rule: "login", subject: "ip:203.0.113.7", level: 1 },
    ]);
    expect((await api("GET", "/bans?rule=signup")).body.bans).toEqual([]);
    const lifted = await api("DELETE", `/bans/${encodeURIComponent("ip:203.0.113.7")}`);
    expect(lifted).toMatchObject({ status: 200, body: { lifted: [{ rule: "login", level: 1 }] } });
    expect(await statuses(gw, 1, "/login", post)).toEqual([200]);
  });

  it("lift a ban in another isolate within 30 s: its memory of the ban holds no longer", async () => {
    const policy = { ...BANNED_LOGIN, prefix: uniquePrefix() };
    const here = gateway(kind, policy, { SLUICE_ADMIN_TOKEN: TOKEN });
    const elsewhere = gateway(kind, policy);
    await statuses(here, 8, "/login", post); // banned by the eighth
    // The other isolate learns the ban from the store once, then holds it.
    expect(await statuses(elsewhere, 2, "/login", post)).toEqual([429, 429]);
    expect(elsewhere.events.at(-1)).toMatchObject({ outcome: "banned" });

    const lifted = await admin(here)("DELETE", "/bans/ip:203.0.113.7");
    expect(lifted.status).toBe(200);
    expect(await statuses(here, 1, "/login", post)).toEqual([200]);
    // Elsewhere the ban's memory lasts until its hold ends, at most 30 s.
    elsewhere.clock.advance(29_000);
    expect(await statuses(elsewhere, 1, "/login", post)).toEqual([429]);
    elsewhere.clock.advance(1_000);
    expect(await statuses(elsewhere, 1, "/login", post)).toEqual([200]);
  });

  it("list an IPv6 client's ban by its /56, and lift it by any address in that subnet", async () => {
    const gw = gateway(
      kind,
      {
        rules: [
          {
            name: "login",
            match: { path: "/login" },
            limits: [{ rate: "1/min" }],
            ban: { after: 1, within: "1m", for: "10m" },
          },
        ],
      },
      { SLUICE_ADMIN_TOKEN: TOKEN },
    );
    const ip = "2001:db8:1200:ab::7";
    expect(await statuses(gw, 3, "/login", { ip })).toEqual([200, 429, 429]);
    const api = admin(gw);
    const bans = (await api("GET", "/bans")).body.bans;
    expect(bans.map((b: Body) => b.subject)).toEqual(["ip:2001:db8:1200::/56"]);
    const other = encodeURIComponent("ip:2001:db8:1200:ff::1");
    expect((await api("DELETE", `/bans/${other}`)).status).toBe(200);
    expect(await statuses(gw, 1, "/login", { ip })).toEqual([200]);
  });

  it("answer a ban from memory: one store call for the strike that starts it, none after", async () => {
    const store = countedStore(kind);
    const gw = gateway(kind, BANNED_LOGIN, { ...store.env, SLUICE_METRICS_OFF: "1" });
    await statuses(gw, 8, "/login", post); // banned by the eighth
    const before = await store.calls();
    expect(await statuses(gw, 20, "/login", post)).toEqual(Array(20).fill(429));
    expect((await store.calls()) - before).toBe(0);
  });
});

describe.each(STORES)("shared and application-wide limits, %s store", (kind: StoreKind) => {
  it("count limits with one shared name in one bucket across rules", async () => {
    const shared = { rate: "4/min", shared: "lookups" };
    const gw = gateway(kind, {
      rules: [
        { name: "search", match: { path: "/search" }, limits: [shared, { rate: "10/s" }] },
        { name: "suggest", match: { path: "/suggest" }, limits: [{ ...shared, cost: 2 }] },
      ],
    });
    expect(await statuses(gw, 2, "/search")).toEqual([200, 200]);
    const res = await gw.fetch("/suggest");
    expect(res.status).toBe(200);
    // Nothing left; a suggestion (cost 2) fits again in 30 s.
    expect(res.headers.get("ratelimit")).toBe('"ip-1m";r=0;t=30');
    expect(await statuses(gw, 1, "/search")).toEqual([429]);
    expect(await statuses(gw, 1, "/suggest")).toEqual([429]);
    // Another client has its own shared bucket.
    expect(await statuses(gw, 1, "/search", { ip: "203.0.113.8" })).toEqual([200]);
  });

  it("count every request against application-wide limits, matched or not, beside its rule's", async () => {
    const gw = gateway(kind, {
      limits: [{ rate: "4/min" }],
      rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "10/min" }] }],
    });
    const first = await gw.fetch("/api/x");
    expect(first.headers.get("ratelimit-policy")).toBe('"ip-1m";q=10;w=60, "app.ip-1m";q=4;w=60');
    expect(await statuses(gw, 2, "/other")).toEqual([200, 200]);
    const unmatched = await gw.fetch("/other");
    expect(unmatched.status).toBe(200);
    expect(unmatched.headers.get("ratelimit")).toBe('"app.ip-1m";r=0;t=15');
    const refused = await gw.fetch("/api/y");
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as Body)["violated-policies"]).toEqual(["app.ip-1m"]);
    expect(await statuses(gw, 1, "/other")).toEqual([429]);
    expect(gw.events.at(-1)).toMatchObject({ rule: "*", outcome: "denied" });
  });

  it("decide the rule's, the shared and the application-wide limits in one store call", async () => {
    const store = countedStore(kind);
    const gw = gateway(
      kind,
      {
        limits: [{ rate: "100/min", by: "global" }],
        rules: [
          {
            name: "api",
            match: { path: "/api/*" },
            limits: [{ rate: "50/min", shared: "all-api" }, { rate: "10/s" }],
          },
        ],
      },
      { ...store.env, SLUICE_METRICS_OFF: "1" },
    );
    await statuses(gw, 1, "/api/warm"); // loads the script once
    const before = await store.calls();
    expect(await statuses(gw, 3, "/api/x")).toEqual([200, 200, 200]);
    // Redis: one script holds every key. Durable Objects: the rule, its
    // shared name and the application-wide limits are placed in one object.
    expect((await store.calls()) - before).toBe(3);
  });

  it("keep a shadow rule unfelt, but not the application-wide limits decided with it", async () => {
    const gw = gateway(kind, {
      limits: [{ rate: "3/min" }],
      rules: [{ name: "trial", match: { path: "*" }, limits: [{ rate: "1/min" }], mode: "shadow" }],
    });
    expect(await statuses(gw, 4, "/x")).toEqual([200, 200, 200, 429]);
    expect(gw.events.map((e) => e.outcome)).toEqual([
      "allowed",
      "shadow-denied",
      "shadow-denied",
      "denied",
    ]);
    expect(gw.events.at(-1)?.rule).toBe("*");
  });
});

describe.each(STORES)("custom refusals, %s store", (kind: StoreKind) => {
  it("answer with the rule's status, headers and body, keeping Retry-After and the RateLimit fields", async () => {
    const gw = gateway(kind, {
      plans: { free: "5/min" },
      rules: [
        {
          name: "busy",
          match: { path: "/busy" },
          limits: [{ rate: "1/min" }],
          response: {
            status: 503,
            headers: { "x-reason": "rate-limited", "cache-control": "private, max-age=0" },
            body: {
              error: "slow down on {rule}",
              limit: "{limit}",
              retryAfter: "{retryAfter}",
              wait: "retry in {retryAfter} s",
              tenant: "{tenant}",
            },
          },
        },
      ],
    });
    expect(await statuses(gw, 1, "/busy")).toEqual([200]);
    const res = await gw.fetch("/busy");
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-reason")).toBe("rate-limited");
    expect(res.headers.get("cache-control")).toBe("private, max-age=0");
    expect(res.headers.get("retry-after")).toBe("60");
    expect(res.headers.get("ratelimit")).toBe('"ip-1m";r=0;t=60');
    expect(res.headers.get("ratelimit-policy")).toBe('"ip-1m";q=1;w=60');
    expect(await res.json()).toEqual({
      error: "slow down on busy",
      limit: "ip-1m",
      retryAfter: 60,
      wait: "retry in 60 s",
      tenant: "",
    });
  });

  it("hide the RateLimit fields when the rule says so, never Retry-After", async () => {
    const gw = gateway(kind, {
      headers: { legacy: true },
      rules: [
        {
          name: "quiet",
          match: { path: "*" },
          limits: [{ rate: "1/min" }],
          rateLimitHeaders: false,
        },
      ],
    });
    const ok = await gw.fetch("/q");
    expect(ok.status).toBe(200);
    for (const name of ["ratelimit", "ratelimit-policy", "x-ratelimit-limit"]) {
      expect(ok.headers.has(name)).toBe(false);
    }
    const refused = await gw.fetch("/q");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(refused.headers.has("ratelimit")).toBe(false);
    expect(((await refused.json()) as Body).type).toBe("https://sluice.dev/problems/rate-limited");
  });
});
