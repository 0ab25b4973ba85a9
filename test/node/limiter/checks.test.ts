/** @module test/node/limiter/checks — the store keys a rule's limits are counted under. */
import { describe, expect, it } from "vitest";
import { banOf, buildChecks } from "../../../src/limiter/checks.ts";
import { applicationRule } from "../../../src/policy/protect.ts";
import type { Policy, Rule } from "../../../src/policy/types.ts";
import { validatePolicy } from "../../../src/policy/validate.ts";

function policyWith(algorithm: string): Policy {
  const result = validatePolicy({
    rules: [
      { name: "api", match: { path: "/api/*" }, limits: [{ rate: "10/s", by: "ip", algorithm }] },
    ],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.policy;
}

async function keyFor(algorithm: string): Promise<string> {
  const policy = policyWith(algorithm);
  const rule = policy.rules[0];
  if (!rule) throw new Error("no rule");
  const who = { ipKey: "203.0.113.7", header: () => undefined };
  const [check] = await buildChecks(policy, rule, who);
  return check?.key ?? "";
}

describe("store keys", () => {
  it("keep GCRA's bare id and give every other algorithm its own key", async () => {
    const keys = await Promise.all(
      ["gcra", "token-bucket", "fixed-window", "sliding-window", "sliding-log"].map(keyFor),
    );
    expect(keys[0]).toBe("sluice:api:ip-1s:ip:203.0.113.7");
    // Changing a limit's algorithm must never read the old algorithm's state.
    expect(new Set(keys).size).toBe(5);
    expect(keys[2]).toBe("sluice:api:ip-1s~fw:ip:203.0.113.7");
  });
});

describe("protection keys", () => {
  const result = validatePolicy({
    limits: [{ rate: "1000/min", by: "ip" }],
    rules: [
      {
        name: "search",
        match: { path: "/search" },
        limits: [{ rate: "100/min", shared: "lookups" }, { rate: "5/s" }],
        ban: { after: 3, within: "1m", for: "10m" },
      },
      {
        name: "suggest",
        match: { path: "/suggest" },
        limits: [{ rate: "100/min", shared: "lookups", cost: 2 }],
      },
    ],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  const { policy } = result;
  const [search, suggest] = policy.rules as [Rule, Rule];
  const who = { ipKey: "2001:db8:1200::/56", header: () => undefined };

  it("key a shared limit by its shared name, so every rule that names it counts in one bucket", async () => {
    const a = await buildChecks(policy, search, who);
    const b = await buildChecks(policy, suggest, who);
    expect(a.map((c) => c.key)).toEqual([
      "sluice:~lookups:ip-1m:ip:2001:db8:1200::/56",
      "sluice:search:ip-1s:ip:2001:db8:1200::/56",
    ]);
    expect(b[0]?.key).toBe(a[0]?.key);
    expect(b[0]?.cost).toBe(2);
  });

  it("key application-wide limits under the rule name *", async () => {
    const checks = await buildChecks(policy, applicationRule(policy.limits), who);
    expect(checks.map((c) => c.key)).toEqual(["sluice:*:app.ip-1m:ip:2001:db8:1200::/56"]);
  });

  it("key a ban by the rule and the subject of its first limit", async () => {
    const checks = await buildChecks(policy, search, who);
    expect(banOf(policy, search, checks)).toEqual({
      key: "sluice:search:~ban:ip:2001:db8:1200::/56",
      after: 3,
      withinMs: 60_000,
      forMs: 600_000,
      escalate: 1,
      maxMs: 86_400_000,
    });
    expect(banOf(policy, suggest, await buildChecks(policy, suggest, who))).toBeUndefined();
  });
});

describe("floor counts", () => {
  const result = validatePolicy({
    limits: [{ rate: "1000/min", by: "ip", algorithm: "token-bucket" }],
    rules: [
      {
        name: "search",
        match: { path: "/search" },
        limits: [
          { rate: "100/min", shared: "lookups" },
          { rate: "50/s", algorithm: "token-bucket" },
        ],
        adaptive: { min: 0.25 },
      },
      { name: "export", match: { path: "/export" }, limits: [{ rate: "40/min" }], adaptive: {} },
      { name: "plain", match: { path: "/plain" }, limits: [{ rate: "30/min" }] },
    ],
  });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  const { policy } = result;
  const [search, exported, plain] = policy.rules as [Rule, Rule, Rule];
  const who = { ipKey: "203.0.113.7", header: () => undefined };
  const floors = async (rule: Rule) =>
    (await buildChecks(policy, rule, who)).map((c) => c.floorCount);

  it("are the rule's own controller's least share of its limits", async () => {
    // 50/s at 0.25 → 12; 40/min at the default 0.1 → 4.
    expect((await floors(search))[1]).toBe(12);
    expect(await floors(exported)).toEqual([4]);
  });

  it("are the least share of any controller for shared and application-wide limits, which any rule's request may carry", async () => {
    // 100/min and 1000/min at 0.1, the smaller of 0.25 and 0.1.
    expect((await floors(search))[0]).toBe(10);
    expect(await floors(applicationRule(policy.limits))).toEqual([100]);
  });

  it("are never above the limit's own count, even where scaling stops at a cost above it", async () => {
    const costly = validatePolicy({
      rules: [
        {
          name: "batch",
          match: { path: "/batch" },
          limits: [{ rate: "1/min", burst: 10, cost: 5, algorithm: "token-bucket" }],
          adaptive: {},
        },
      ],
    });
    if (!costly.ok) throw new Error(JSON.stringify(costly.issues));
    const [batch] = costly.policy.rules as [Rule];
    const [check] = await buildChecks(costly.policy, batch, who);
    // Scaled, the count is raised to the cost (5); unscaled it refills at 1 a minute.
    expect(check?.floorCount).toBe(1);
  });

  it("are absent where no controller scales the limit", async () => {
    expect(await floors(plain)).toEqual([undefined]);
    const calm = validatePolicy({
      limits: [{ rate: "1000/min" }],
      rules: [{ name: "a", match: { path: "/a" }, limits: [{ rate: "5/s", shared: "s" }] }],
    });
    if (!calm.ok) throw new Error(JSON.stringify(calm.issues));
    const [a] = calm.policy.rules as [Rule];
    expect((await buildChecks(calm.policy, a, who)).map((c) => c.floorCount)).toEqual([undefined]);
    const app = await buildChecks(calm.policy, applicationRule(calm.policy.limits), who);
    expect(app.map((c) => c.floorCount)).toEqual([undefined]);
  });
});
