/** @module test/node/policy/load — policy source selection, content hash and issue formatting. */
import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  formatIssues,
  hashPolicy,
  loadPolicy,
  parsePolicyJson,
} from "../../../src/policy/load.ts";
import type { Policy } from "../../../src/policy/types.ts";

const bundled = {
  version: "1",
  rules: [
    { name: "login", match: { path: "/login", methods: ["POST"] }, limits: [{ rate: "5/min" }] },
  ],
};

async function hashOf(raw: unknown): Promise<string> {
  const result = await loadPolicy(raw, undefined);
  if (!result.ok) throw new Error(formatIssues(result.issues));
  return result.loaded.hash;
}

describe("loadPolicy", () => {
  it("uses the bundled policy when SLUICE_POLICY is unset or blank", async () => {
    for (const override of [undefined, "", "  \n"]) {
      const result = await loadPolicy(bundled, override);
      expect(result.ok && result.source).toBe("bundled");
      expect(result.ok && result.loaded.policy.version).toBe("1");
    }
  });

  it("lets a non-empty SLUICE_POLICY replace the bundled policy entirely", async () => {
    const override = JSON.stringify({
      version: "env",
      rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "1/s" }] }],
    });
    const result = await loadPolicy(bundled, override);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.source).toBe("SLUICE_POLICY");
    expect(result.loaded.policy.version).toBe("env");
    expect(result.loaded.policy.rules.map((r) => r.name)).toEqual(["api"]);
  });

  it("reports SLUICE_POLICY that is not JSON at the path SLUICE_POLICY", async () => {
    const result = await loadPolicy(bundled, "{nope");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.source).toBe("SLUICE_POLICY");
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]).toMatchObject({
      code: "ERR_SLUICE_POLICY_JSON",
      path: "SLUICE_POLICY",
    });
    expect(result.issues[0]?.message).toMatch(/^invalid JSON: .+/);
  });

  it("reports validation issues of an invalid override, never falling back to the bundled one", async () => {
    const result = await loadPolicy(bundled, '{"rules": []}');
    expect(result).toEqual({
      ok: false,
      source: "SLUICE_POLICY",
      warnings: [],
      issues: [
        {
          code: "ERR_SLUICE_EMPTY",
          path: "rules",
          message: "expected at least one rule, got an empty list",
        },
      ],
    });
  });

  it("passes warnings along with a valid policy", async () => {
    const result = await loadPolicy(
      { ...bundled, identity: { ip: { ipv6Subnet: 128 } } },
      undefined,
    );
    expect(result.ok && result.warnings.map((w) => w.code)).toEqual(["WARN_SLUICE_IPV6_SUBNET"]);
  });

  it("freezes the shared policy so no request can change it", async () => {
    const result = await loadPolicy(bundled, undefined);
    if (!result.ok) throw new Error("expected a valid policy");
    const rule = result.loaded.policy.rules[0];
    expect(Object.isFrozen(result.loaded.policy)).toBe(true);
    expect(() => {
      if (rule) rule.countRejected = true;
    }).toThrow(TypeError);
  });
});

describe("the policy hash", () => {
  it("is the hex SHA-256 of the canonical JSON of the defaulted policy", async () => {
    const result = await loadPolicy(bundled, undefined);
    if (!result.ok) throw new Error("expected a valid policy");
    const bytes = new TextEncoder().encode(canonicalJson(result.loaded.policy));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    expect(result.loaded.hash).toBe(hex);
    expect(result.loaded.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("ignores key order and formatting of the source", async () => {
    const reordered = JSON.parse(
      '{"rules":[{"limits":[{"rate":"5/min"}],"match":{"methods":["POST"],"path":"/login"},"name":"login"}],"version":"1"}',
    );
    expect(await hashOf(reordered)).toBe(await hashOf(bundled));
  });

  it("ignores values written out that equal their defaults", async () => {
    const explicit = {
      ...bundled,
      prefix: "sluice",
      store: { timeoutMs: 250 },
      rules: [
        { ...bundled.rules[0], onStoreError: "local", limits: [{ rate: "5/min", by: "ip" }] },
      ],
    };
    expect(await hashOf(explicit)).toBe(await hashOf(bundled));
  });

  it("ignores a top-level $schema, in the bundled policy and in SLUICE_POLICY", async () => {
    const withSchema = { $schema: "./sluice.policy.schema.json", ...bundled };
    expect(await hashOf(withSchema)).toBe(await hashOf(bundled));
    const result = await loadPolicy(bundled, JSON.stringify(withSchema));
    expect(result.ok && result.source).toBe("SLUICE_POLICY");
    expect(result.ok && result.loaded.hash).toBe(await hashOf(bundled));
  });

  it("changes when a limit changes", async () => {
    const changed = {
      ...bundled,
      rules: [{ ...bundled.rules[0], limits: [{ rate: "6/min" }] }],
    };
    expect(await hashOf(changed)).not.toBe(await hashOf(bundled));
  });

  it("changes when rule order changes (first match wins)", async () => {
    const a = { name: "a", match: { path: "/a" }, limits: [{ rate: "1/s" }] };
    const b = { name: "b", match: { path: "/b" }, limits: [{ rate: "1/s" }] };
    expect(await hashOf({ rules: [a, b] })).not.toBe(await hashOf({ rules: [b, a] }));
  });

  it("hashPolicy gives the same hash for equal policies built in different key orders", async () => {
    const result = await loadPolicy(bundled, undefined);
    if (!result.ok) throw new Error("expected a valid policy");
    const copy = JSON.parse(JSON.stringify(result.loaded.policy)) as Policy;
    const reversed = Object.fromEntries(Object.entries(copy).reverse()) as unknown as Policy;
    expect(await hashPolicy(reversed)).toBe(result.loaded.hash);
  });
});

describe("canonicalJson", () => {
  it("sorts keys at every level and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: null }], e: "x" })).toBe(
      '{"a":[2,{"c":null,"d":3}],"b":1,"e":"x"}',
    );
  });
});

describe("parsePolicyJson", () => {
  it("returns the value of valid JSON", () => {
    expect(parsePolicyJson('{"a":1}', "f.json")).toEqual({ ok: true, value: { a: 1 } });
  });
});

describe("formatIssues", () => {
  it("writes one `CODE at path: message` line per issue", () => {
    expect(
      formatIssues([
        {
          code: "ERR_SLUICE_RATE_SYNTAX",
          path: "rules[0].limits[0].rate",
          message: 'expected "<count>/<period>" like "10/s", got "10"',
        },
        {
          code: "ERR_SLUICE_TYPE",
          path: "",
          message: "expected a JSON object (the policy), got null",
        },
      ]),
    ).toBe(
      [
        'ERR_SLUICE_RATE_SYNTAX at rules[0].limits[0].rate: expected "<count>/<period>" like "10/s", got "10"',
        "ERR_SLUICE_TYPE at (root): expected a JSON object (the policy), got null",
      ].join("\n"),
    );
  });

  it("gives an empty string for no issues", () => {
    expect(formatIssues([])).toBe("");
  });
});
