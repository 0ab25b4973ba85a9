/** @module test/node/limiter/checks — the store keys a rule's limits are counted under. */
import { describe, expect, it } from "vitest";
import { buildChecks } from "../../../src/limiter/checks.ts";
import type { Policy } from "../../../src/policy/types.ts";
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
