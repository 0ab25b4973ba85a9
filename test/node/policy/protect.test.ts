/** @module test/node/policy/protect — lists, application-wide limits, exemptions, bans, shared limits and refusals as the validated policy holds them. */
import { describe, expect, it } from "vitest";
import { validatePolicy } from "../../../src/policy/validate.ts";

const api = { name: "api", match: { path: "/api/*" }, limits: [{ rate: "10/s" }] };

function valid(raw: Record<string, unknown>) {
  const result = validatePolicy(raw);
  if (!result.ok) throw new Error(result.issues.map((i) => i.message).join("\n"));
  return result;
}

describe("lists", () => {
  it("are written canonically: ranges as parsed, countries upper-case, duplicates dropped", () => {
    const { policy } = valid({
      tenants: {},
      lists: {
        blocked: {
          action: "deny",
          ips: ["2001:DB8::/32", "::ffff:198.51.100.0/120", "203.0.113.9/32", "203.0.113.9"],
          countries: ["kp", "KP"],
        },
        partners: { action: "allow", tenants: ["acme"] },
        office: {},
      },
      rules: [{ ...api, exempt: ["office"] }],
    });
    expect(policy.lists).toEqual({
      blocked: {
        action: "deny",
        ips: ["2001:db8::/32", "198.51.100.0/24", "203.0.113.9"],
        tenants: [],
        countries: ["KP"],
      },
      partners: { action: "allow", ips: [], tenants: ["acme"], countries: [] },
      office: { action: null, ips: [], tenants: [], countries: [] },
    });
    expect(policy.rules[0]?.exempt).toEqual(["office"]);
  });

  it("warns when a rule exempts an allow or deny list", () => {
    const result = valid({
      lists: { blocked: { action: "deny" } },
      rules: [{ ...api, exempt: ["blocked"] }],
    });
    expect(result.warnings.map((w) => [w.code, w.path])).toEqual([
      ["WARN_SLUICE_EXEMPT_LIST_ACTION", "rules[0].exempt[0]"],
    ]);
  });
});

describe("application-wide limits", () => {
  it("are read like a rule's and left empty by default", () => {
    expect(valid({ rules: [api] }).policy.limits).toEqual([]);
    const { policy } = valid({ limits: [{ rate: "1000/min", by: "global" }], rules: [api] });
    expect(policy.limits).toMatchObject([
      { id: "app.global-1m", count: 1000, by: { kind: "global" } },
    ]);
  });

  it("warn when a banning rule's subject differs from theirs", () => {
    const result = valid({
      limits: [{ rate: "1000/s", by: "global" }],
      rules: [{ ...api, ban: { after: 3, within: "1m", for: "10m" } }],
    });
    expect(result.warnings.map((w) => [w.code, w.path])).toEqual([
      ["WARN_SLUICE_BAN_APP_LIMIT", "rules[0].ban"],
    ]);
  });
});

describe("rules' protection fields", () => {
  it("default to no exemptions, no ban, the plain 429 and RateLimit fields on", () => {
    expect(valid({ rules: [api] }).policy.rules[0]).toMatchObject({
      exempt: [],
      ban: null,
      response: { status: 429, headers: {}, body: null },
      rateLimitHeaders: true,
    });
  });

  it("read bans in ms, with escalate 1 and max 24 h by default", () => {
    const { policy } = valid({
      rules: [
        { ...api, ban: { after: 3, within: "1m", for: "10m", escalate: 2, max: "1h" } },
        { ...api, name: "b", ban: { after: 5, within: 30_000, for: "15m" } },
      ],
    });
    expect(policy.rules.map((r) => r.ban)).toEqual([
      { after: 3, withinMs: 60_000, forMs: 600_000, escalate: 2, maxMs: 3_600_000 },
      { after: 5, withinMs: 30_000, forMs: 900_000, escalate: 1, maxMs: 86_400_000 },
    ]);
  });

  it("read refusals: status, lower-cased header names, the body as written", () => {
    const body = {
      error: "slow down",
      rule: "{rule}",
      retry: "{retryAfter}",
      nested: ["{tenant}"],
    };
    const { policy } = valid({
      rules: [
        {
          ...api,
          response: { status: 503, headers: { "X-Reason": "busy" }, body },
          rateLimitHeaders: false,
        },
      ],
    });
    expect(policy.rules[0]).toMatchObject({
      response: { status: 503, headers: { "x-reason": "busy" }, body },
      rateLimitHeaders: false,
    });
  });
});

describe("shared limits", () => {
  it("keep their name, and may be shared by limits stated alike", () => {
    const shared = { rate: "100/min", shared: "search" };
    const { policy } = valid({
      rules: [
        { name: "search", match: { path: "/search" }, limits: [shared] },
        { name: "suggest", match: { path: "/suggest" }, limits: [{ ...shared, cost: 2 }] },
      ],
    });
    expect(policy.rules.map((r) => r.limits[0]?.shared)).toEqual(["search", "search"]);
  });

  it("refuse a different algorithm or subject under one name", () => {
    const result = validatePolicy({
      rules: [
        { name: "a", match: { path: "/a" }, limits: [{ rate: "100/min", shared: "s" }] },
        {
          name: "b",
          match: { path: "/b" },
          limits: [{ rate: "100/min", shared: "s", algorithm: "fixed-window" }],
        },
        {
          name: "c",
          match: { path: "/c" },
          limits: [{ rate: "100/min", shared: "s", by: "global", name: "ip-1m" }],
        },
      ],
    });
    expect(result.ok ? [] : result.issues.map((i) => i.message)).toEqual([
      'limit "ip-1m" shares "s" with rules[0].limits[0] but its algorithm differs (fixed-window, not gcra); limits that count in one bucket must state it alike',
      'limit "ip-1m" shares "s" with rules[0].limits[0] but its subject differs (global, not ip); limits that count in one bucket must state it alike',
    ]);
  });
});
