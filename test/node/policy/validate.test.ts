/** @module test/node/policy/validate — defaults, rate expansion, limit ids and warnings of validatePolicy. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { defaultAdaptiveConfig } from "../../../src/limiter/adaptive.ts";
import { DEFAULT_AUTH_FAILURES, TENANTS_DEFAULTS } from "../../../src/policy/tenants.ts";
import type { Limit, Policy, Rule } from "../../../src/policy/types.ts";
import { validatePolicy } from "../../../src/policy/validate.ts";

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../fixtures/policy/${name}`, import.meta.url), "utf8"));

function ok(raw: unknown): Policy {
  const result = validatePolicy(raw);
  if (!result.ok) throw new Error(JSON.stringify(result.issues, null, 2));
  return result.policy;
}

/** A one-rule policy around the given limits, for limit-level tests. */
const withLimits = (...limits: unknown[]) => ({
  rules: [{ name: "r", match: { path: "/r" }, limits }],
});

function limitsOf(...limits: unknown[]): Limit[] {
  return ok(withLimits(...limits)).rules[0]?.limits ?? [];
}

function issuesOf(raw: unknown) {
  const result = validatePolicy(raw);
  return result.ok ? [] : result.issues;
}

describe("the minimal example from the design brief", () => {
  it("is accepted as written and fully defaulted", () => {
    const result = validatePolicy(fixture("valid/minimal.json"));
    const ip = { kind: "ip" } as const;
    const gcra = { cost: 1, algorithm: "gcra", fromPlan: false, shared: null } as const;
    const unprotected = {
      exempt: [],
      ban: null,
      response: { status: 429, headers: {}, body: null },
      rateLimitHeaders: true,
    };
    expect(result).toEqual({
      ok: true,
      warnings: [],
      policy: {
        version: "0",
        prefix: "sluice",
        identity: {
          ip: { source: "cf-connecting-ip", trustedHops: 1, ipv6Subnet: 56 },
          apiKey: { header: "x-api-key", bearer: true },
        },
        rules: [
          {
            name: "login",
            match: { methods: ["POST"], path: "/login" },
            limits: [{ id: "ip-1m", count: 5, periodMs: 60_000, burst: 5, ...gcra, by: ip }],
            onStoreError: "local",
            mode: "enforce",
            countRejected: false,
            countStatus: null,
            action: "reject",
            maxDelayMs: 0,
            concurrency: null,
            adaptive: null,
            ...unprotected,
          },
          {
            name: "api",
            match: { methods: null, path: "/api/*" },
            limits: [
              {
                id: "apikey-1s",
                count: 10,
                periodMs: 1000,
                burst: 10,
                ...gcra,
                by: { kind: "apiKey" },
              },
              { id: "ip-1h", count: 1000, periodMs: 3_600_000, burst: 1000, ...gcra, by: ip },
            ],
            onStoreError: "deny",
            mode: "enforce",
            countRejected: false,
            countStatus: null,
            action: "reject",
            maxDelayMs: 0,
            concurrency: null,
            adaptive: null,
            ...unprotected,
          },
        ],
        limits: [],
        lists: {},
        plans: {},
        tenants: {
          enabled: false,
          namespace: "sluice-dir",
          header: "x-sluice-tenant",
          cacheTtlMs: 30_000,
          staleIfErrorMs: 60_000,
          authFailures: { count: 10, periodMs: 60_000, burst: 10 },
          keyPrefix: "sk_live_",
        },
        headers: { legacy: false },
        log: { allowed: true },
        store: { timeoutMs: 250, shards: 1 },
        origin: { timeoutMs: 30_000 },
      },
    });
  });
});

describe("the bundled policy", () => {
  it("is valid, has no warnings and keeps login brute-force protection", () => {
    const raw = JSON.parse(
      readFileSync(new URL("../../../src/sluice.policy.json", import.meta.url), "utf8"),
    );
    const result = validatePolicy(raw);
    expect(result.ok && result.warnings).toEqual([]);
    if (!result.ok) return;
    const login = result.policy.rules.find((r) => r.name === "login");
    expect(login?.countRejected).toBe(true);
    expect(login?.match).toEqual({ path: "/login", methods: ["POST"] });
    expect(result.policy.version).toBe("1");
  });
});

describe("explicit settings are kept", () => {
  it("reads every optional top-level field", () => {
    const policy = ok({
      version: "2024-06",
      prefix: "sluice-v2",
      identity: {
        ip: { source: "x-forwarded-for", trustedHops: 2, ipv6Subnet: 48 },
        apiKey: { header: "X-Customer-Key", bearer: false },
      },
      headers: { legacy: true },
      store: { timeoutMs: 100 },
      origin: { timeoutMs: 5000 },
      rules: [
        {
          name: "r_1",
          match: { path: "/r", methods: ["get", "Post"] },
          limits: [{ rate: "1/s" }],
          onStoreError: "deny",
          mode: "shadow",
          countRejected: true,
        },
      ],
    });
    expect(policy).toMatchObject({
      version: "2024-06",
      prefix: "sluice-v2",
      identity: {
        ip: { source: "x-forwarded-for", trustedHops: 2, ipv6Subnet: 48 },
        apiKey: { header: "x-customer-key", bearer: false },
      },
      headers: { legacy: true },
      store: { timeoutMs: 100 },
      origin: { timeoutMs: 5000 },
    });
    const rule: Rule | undefined = policy.rules[0];
    expect(rule?.match.methods).toEqual(["GET", "POST"]);
    expect(rule).toMatchObject({ onStoreError: "deny", mode: "shadow", countRejected: true });
  });

  it("accepts the range bounds", () => {
    for (const [store, origin, subnet] of [
      [10, 100, 1],
      [5000, 600_000, 128],
    ]) {
      const result = validatePolicy({
        identity: { ip: { ipv6Subnet: subnet } },
        store: { timeoutMs: store },
        origin: { timeoutMs: origin },
        ...withLimits({ rate: "1/s" }),
      });
      expect(result.ok, `${store} ${origin} ${subnet}`).toBe(true);
    }
  });
});

describe("rate expansion", () => {
  it("expands ';'-separated rates into limits sharing by, algorithm and cost", () => {
    expect(limitsOf({ rate: "10/s burst 20; 1000/h", by: "apiKey", cost: 2 })).toEqual([
      {
        id: "apikey-1s",
        count: 10,
        periodMs: 1000,
        burst: 20,
        cost: 2,
        algorithm: "gcra",
        by: { kind: "apiKey" },
        fromPlan: false,
        shared: null,
      },
      {
        id: "apikey-1h",
        count: 1000,
        periodMs: 3_600_000,
        burst: 1000,
        cost: 2,
        algorithm: "gcra",
        by: { kind: "apiKey" },
        fromPlan: false,
        shared: null,
      },
    ]);
  });

  it("defaults burst to the count, and applies a limit-level burst to a single rate", () => {
    expect(limitsOf({ rate: "10/s" })[0]?.burst).toBe(10);
    expect(limitsOf({ rate: "10/s", burst: 25 })[0]?.burst).toBe(25);
    expect(limitsOf({ rate: "10/s", burst: 3 })[0]?.burst).toBe(3);
  });

  it("accepts the object form with a string or millisecond period", () => {
    const [a, b] = limitsOf(
      { rate: { count: 10, period: "2 minutes", burst: 20 } },
      { rate: { count: 5, period: 1500 }, by: "global" },
    );
    expect(a).toMatchObject({ id: "ip-2m", count: 10, periodMs: 120_000, burst: 20 });
    expect(b).toMatchObject({ id: "global-1500ms", count: 5, periodMs: 1500, burst: 5 });
  });

  it("lets fixed-window state its count as burst, and otherwise gives it burst = count", () => {
    const [a, b] = limitsOf(
      { rate: "10/s", algorithm: "fixed-window", burst: 10 },
      { rate: "100/h", algorithm: "fixed-window" },
    );
    expect(a).toMatchObject({ algorithm: "fixed-window", burst: 10 });
    expect(b).toMatchObject({ algorithm: "fixed-window", burst: 100 });
  });

  it("gives token-bucket a burst of its own, and the windows and the log burst = count", () => {
    const [bucket, window, log] = limitsOf(
      { rate: "10/s burst 20", algorithm: "token-bucket" },
      { rate: "100/h", algorithm: "sliding-window" },
      { rate: "5/min", algorithm: "sliding-log", burst: 5, by: "apiKey" },
    );
    expect(bucket).toMatchObject({ algorithm: "token-bucket", count: 10, burst: 20 });
    expect(window).toMatchObject({ algorithm: "sliding-window", burst: 100 });
    expect(log).toMatchObject({ algorithm: "sliding-log", burst: 5 });
  });

  it("accepts exact-integer products up to 2^53", () => {
    // 284 000 × 31 622 400 000 ms < 2^53 (the fixtures hold 300 000, which is over).
    const [bucket, window] = limitsOf(
      { rate: "10/366d burst 284000", algorithm: "token-bucket" },
      { rate: "284000/366d", algorithm: "sliding-window", by: "apiKey" },
    );
    expect(bucket?.burst).toBe(284_000);
    expect(window?.count).toBe(284_000);
  });

  it("allows cost equal to burst", () => {
    expect(limitsOf({ rate: "10/s burst 4", cost: 4 })[0]).toMatchObject({ cost: 4, burst: 4 });
  });
});

describe("adaptive rules", () => {
  const adaptiveOf = (adaptive: unknown) =>
    ok({ rules: [{ name: "r", match: { path: "/r" }, limits: [{ rate: "10/s" }], adaptive }] })
      .rules[0]?.adaptive;

  it("turn on with the controller's defaults for {}", () => {
    expect(adaptiveOf({})).toEqual(defaultAdaptiveConfig);
  });

  it("read shares as parts per million and durations as ms", () => {
    expect(
      adaptiveOf({
        latency: "250ms",
        min: 0.25,
        decrease: 0.8,
        increase: 0.000001,
        window: 2000,
        minRequests: 5,
        hold: "3s",
        errorLow: 0,
        errorHigh: 1,
        slowLow: 0.1,
        slowHigh: 0.1,
        maxPause: "1h",
      }),
    ).toEqual({
      latencyMs: 250,
      minPpm: 250_000,
      decreasePpm: 800_000,
      increasePpm: 1,
      windowMs: 2000,
      minRequests: 5,
      holdMs: 3000,
      errorLowPpm: 0,
      errorHighPpm: 1_000_000,
      slowLowPpm: 100_000,
      slowHighPpm: 100_000,
      maxPauseMs: 3_600_000,
    });
  });

  it("refuse a share that rounds to a bound it may not reach", () => {
    const issues = issuesOf({
      rules: [
        {
          name: "r",
          match: { path: "/r" },
          limits: [{ rate: "10/s" }],
          adaptive: { min: 0.0000001, decrease: 0.9999999 },
        },
      ],
    });
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ["ERR_SLUICE_RANGE", "rules[0].adaptive.min"],
      ["ERR_SLUICE_RANGE", "rules[0].adaptive.decrease"],
    ]);
  });
});

describe("limit ids", () => {
  it.each([
    [{ rate: "5/min" }, "ip-1m"],
    [{ rate: "1/s", by: "apiKey" }, "apikey-1s"],
    [{ rate: "1/hour", by: "global" }, "global-1h"],
    [{ rate: "1/day", by: "header:X-User" }, "hdr.x-user-1d"],
    [{ rate: "1/2s" }, "ip-2s"],
    [{ rate: "1/500ms" }, "ip-500ms"],
    [{ rate: "1/60 minutes" }, "ip-1h"],
    [{ rate: "1/90s" }, "ip-90s"],
    [{ rate: "1/s", name: "per-ip.burst*" }, "per-ip.burst*"],
  ])("%j → %s", (limit, id) => {
    expect(limitsOf(limit)[0]?.id).toBe(id);
  });

  it("leave the count out, so raising a limit keeps its counters", () => {
    expect(limitsOf({ rate: "5/min" })[0]?.id).toBe(limitsOf({ rate: "50/min" })[0]?.id);
  });

  it("lower-case header subjects", () => {
    expect(limitsOf({ rate: "1/s", by: "header:X-Tenant" })[0]?.by).toEqual({
      kind: "header",
      name: "x-tenant",
    });
  });

  it("may repeat across rules (store keys include the rule name)", () => {
    const policy = ok({
      rules: [
        { name: "a", match: { path: "/a" }, limits: [{ rate: "1/s" }] },
        { name: "b", match: { path: "/b" }, limits: [{ rate: "1/s" }] },
      ],
    });
    expect(policy.rules.map((r) => r.limits[0]?.id)).toEqual(["ip-1s", "ip-1s"]);
  });

  it("must differ within a rule; different subjects on the same period are fine", () => {
    expect(limitsOf({ rate: "1/s" }, { rate: "9/s", by: "apiKey" }).map((l) => l.id)).toEqual([
      "ip-1s",
      "apikey-1s",
    ]);
    expect(issuesOf(withLimits({ rate: "1/s" }, { rate: "9/s", name: "ip-1s" }))).toEqual([
      {
        code: "ERR_SLUICE_LIMIT_ID_DUPLICATE",
        path: "rules[0].limits[1].name",
        message:
          'limit id "ip-1s" is already used by rules[0].limits[0]; set "name" to tell them apart',
      },
    ]);
  });
});

describe("issue collection", () => {
  it("reports every problem of the document, in document order", () => {
    const issues = issuesOf({
      version: "",
      identity: { ip: { ipv6Subnet: 0 } },
      rules: [
        { name: "a", match: { path: "/a" }, limits: [{ rate: "1/s", cost: 1.5 }] },
        { name: "b", match: { path: "b" }, limits: [{ rate: "1/s" }], mode: "off" },
      ],
    });
    expect(issues.map((i) => `${i.code} ${i.path}`)).toEqual([
      "ERR_SLUICE_EMPTY version",
      "ERR_SLUICE_RANGE identity.ip.ipv6Subnet",
      "ERR_SLUICE_TYPE rules[0].limits[0].cost",
      "ERR_SLUICE_PATH_SYNTAX rules[1].match.path",
      "ERR_SLUICE_ENUM rules[1].mode",
    ]);
  });

  it("quotes odd unknown keys in the path", () => {
    expect(issuesOf({ "rate limit": 1, ...withLimits({ rate: "1/s" }) })).toEqual([
      {
        code: "ERR_SLUICE_UNKNOWN_FIELD",
        path: '["rate limit"]',
        message:
          'unknown field "rate limit"; expected one of: version, prefix, identity, headers, log, store, origin, plans, tenants, lists, limits, alerts, rules',
      },
    ]);
  });

  it("treats null as a wrong type, not as absent", () => {
    expect(issuesOf({ prefix: null, ...withLimits({ rate: "1/s" }) })).toEqual([
      { code: "ERR_SLUICE_TYPE", path: "prefix", message: "expected a string, got null" },
    ]);
  });
});

describe("warnings", () => {
  const warningsOf = (raw: unknown) => {
    const result = validatePolicy(raw);
    expect(result.ok).toBe(true);
    return result.warnings;
  };

  it("flags trusting X-Forwarded-For", () => {
    expect(
      warningsOf({
        identity: { ip: { source: "x-forwarded-for", trustedHops: 2 } },
        ...withLimits({ rate: "1/s" }),
      }),
    ).toEqual([
      {
        code: "WARN_SLUICE_XFF_TRUSTED",
        path: "identity.ip.source",
        message:
          "the client IP is read from X-Forwarded-For, 2 hop(s) from the right; this is safe only if exactly 2 proxies you control append to it, otherwise clients can choose their own IP",
      },
    ]);
  });

  it("flags trustedHops that cf-connecting-ip ignores", () => {
    expect(
      warningsOf({ identity: { ip: { trustedHops: 3 } }, ...withLimits({ rate: "1/s" }) }),
    ).toEqual([
      {
        code: "WARN_SLUICE_TRUSTED_HOPS_IGNORED",
        path: "identity.ip.trustedHops",
        message:
          'trustedHops is only used with source "x-forwarded-for"; it is ignored with "cf-connecting-ip"',
      },
    ]);
  });

  it.each([[31], [65], [128]])("flags ipv6Subnet /%d", (subnet) => {
    const warnings = warningsOf({
      identity: { ip: { ipv6Subnet: subnet } },
      ...withLimits({ rate: "1/s" }),
    });
    expect(warnings.map((w) => `${w.code} ${w.path}`)).toEqual([
      "WARN_SLUICE_IPV6_SUBNET identity.ip.ipv6Subnet",
    ]);
    expect(warnings[0]?.message).toContain(`/${subnet}, outside /32–/64`);
  });

  it.each([[32], [64]])("accepts ipv6Subnet /%d silently", (subnet) => {
    expect(
      warningsOf({ identity: { ip: { ipv6Subnet: subnet } }, ...withLimits({ rate: "1/s" }) }),
    ).toEqual([]);
  });

  it("flags a rule that an earlier rule makes unreachable", () => {
    expect(
      warningsOf({
        rules: [
          { name: "all", match: { path: "/api/*" }, limits: [{ rate: "1/s" }] },
          { name: "one", match: { path: "/api/:id", methods: ["GET"] }, limits: [{ rate: "1/s" }] },
        ],
      }),
    ).toEqual([
      {
        code: "WARN_SLUICE_RULE_UNREACHABLE",
        path: "rules[1].match",
        message:
          'rule "one" can never match: rules[0] ("all") comes first and matches all of its requests',
      },
    ]);
  });

  it("flags a sliding log too large to rewrite on every request", () => {
    expect(warningsOf(withLimits({ rate: "1000/h", algorithm: "sliding-log" }))).toEqual([]);
    expect(warningsOf(withLimits({ rate: "1001/h", algorithm: "sliding-log" }))).toEqual([
      {
        code: "WARN_SLUICE_SLIDING_LOG_SIZE",
        path: "rules[0].limits[0].rate",
        message:
          'sliding-log keeps up to 1001 entries per subject and rewrites them on every request; above 1000 consider "sliding-window" or "gcra"',
      },
    ]);
  });

  it("are also returned when the policy is invalid", () => {
    const result = validatePolicy({
      identity: { ip: { source: "x-forwarded-for" } },
      ...withLimits({ rate: "1" }),
    });
    expect(result.ok).toBe(false);
    expect(result.warnings.map((w) => w.code)).toEqual(["WARN_SLUICE_XFF_TRUSTED"]);
  });
});

describe("tenants defaults", () => {
  it("are applied without a tenants section, with issued keys off", () => {
    const { tenants } = ok(withLimits({ rate: "1/s" }));
    expect(tenants.enabled).toBe(false);
    expect(tenants.header).toBe(TENANTS_DEFAULTS.header);
    expect(tenants.authFailures).toEqual(DEFAULT_AUTH_FAILURES);
  });

  it("are the same for an empty section, which turns issued keys on", () => {
    const without = ok(withLimits({ rate: "1/s" })).tenants;
    const empty = ok({ ...withLimits({ rate: "1/s" }), tenants: {} }).tenants;
    expect(empty).toEqual({ ...without, enabled: true });
  });

  it("admit 10 wrong keys a minute", () => {
    expect(DEFAULT_AUTH_FAILURES).toEqual({ count: 10, periodMs: 60_000, burst: 10 });
  });
});

describe("a top-level $schema", () => {
  const policy = withLimits({ rate: "1/s" });

  it("is accepted and leaves the defaulted policy as it was", () => {
    expect(ok({ $schema: "./sluice.policy.schema.json", ...policy })).toEqual(ok(policy));
  });

  it("must be a string", () => {
    expect(issuesOf({ $schema: 1, ...policy })).toEqual([
      {
        code: "ERR_SLUICE_TYPE",
        path: "$schema",
        message: "expected a string (where the policy's JSON Schema is), got 1",
      },
    ]);
  });

  it("is only ignored at the top level", () => {
    const nested = { rules: [{ ...policy.rules[0], $schema: "x" }] };
    expect(issuesOf(nested).map((i) => [i.code, i.path])).toEqual([
      ["ERR_SLUICE_UNKNOWN_FIELD", "rules[0].$schema"],
    ]);
  });
});
