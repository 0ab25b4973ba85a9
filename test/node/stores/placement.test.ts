/** @module test/node/stores/placement — which Durable Object each rule's keys live in. */
import { describe, expect, it } from "vitest";
import type { Policy } from "../../../src/policy/types.ts";
import { validatePolicy } from "../../../src/policy/validate.ts";
import { objectFor, placementOf } from "../../../src/stores/durable-object/placement.ts";

function policy(raw: unknown): Policy {
  const result = validatePolicy(raw);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.policy;
}

const rule = (name: string, limits: unknown[]) => ({ name, match: { path: `/${name}` }, limits });

describe("placement of Durable Object keys", () => {
  it("keeps a rule that shares nothing in its own object", () => {
    const p = policy({ rules: [rule("a", [{ rate: "5/s" }]), rule("b", [{ rate: "5/s" }])] });
    const placement = placementOf([p]);
    expect(placement.size).toBe(0);
    expect(objectFor("sluice:a:ip-1s:ip:192.0.2.1", 1, placement)).toBe("a");
  });

  it("puts rules sharing a name, transitively, in the object of their first shared name", () => {
    const p = policy({
      rules: [
        rule("search", [{ rate: "100/min", shared: "lookups" }, { rate: "5/s" }]),
        rule("suggest", [
          { rate: "100/min", shared: "lookups" },
          { rate: "10/s", shared: "typing" },
        ]),
        rule("complete", [{ rate: "10/s", shared: "typing" }]),
        rule("alone", [{ rate: "1/s" }]),
      ],
    });
    const placement = placementOf([p]);
    const keys = [
      "sluice:search:ip-1s:ip:192.0.2.1",
      "sluice:~lookups:ip-1m:ip:192.0.2.1",
      "sluice:suggest:~ban:ip:192.0.2.1",
      "sluice:~typing:ip-1s:ip:192.0.2.1",
      "sluice:complete:ip-1s:ip:192.0.2.1",
    ];
    expect(keys.map((k) => objectFor(k, 1, placement))).toEqual(Array(5).fill("~lookups"));
    expect(objectFor("sluice:alone:ip-1s:ip:192.0.2.1", 1, placement)).toBe("alone");
  });

  it("puts every rule with the application-wide limits in the object *", () => {
    const p = policy({
      limits: [{ rate: "1000/min" }],
      rules: [rule("a", [{ rate: "5/s", shared: "s" }]), rule("b", [{ rate: "5/s" }])],
    });
    const placement = placementOf([p]);
    for (const owner of ["a", "b", "~s", "*"]) {
      expect(objectFor(`sluice:${owner}:x:ip:192.0.2.1`, 1, placement), owner).toBe("*");
    }
  });

  it("puts a shared application-wide limit in the object *, with every rule", () => {
    const p = policy({
      limits: [{ rate: "1000/min", by: "ip", shared: "edge" }],
      rules: [rule("api", [{ rate: "5/s" }])],
    });
    const placement = placementOf([p]);
    expect(objectFor("sluice:~edge:app.ip-1m:ip:192.0.2.1", 1, placement)).toBe("*");
    expect(objectFor("sluice:api:ip-1s:ip:192.0.2.1", 1, placement)).toBe("*");
  });

  it("given several policies, places each owner in one object whichever of them decides", () => {
    const stable = policy({ rules: [rule("a", [{ rate: "5/s" }]), rule("b", [{ rate: "5/s" }])] });
    const canary = policy({
      rules: [rule("a", [{ rate: "5/s", shared: "s" }]), rule("b", [{ rate: "5/s", shared: "s" }])],
    });
    const both = placementOf([stable, canary]);
    expect(objectFor("sluice:a:ip-1s:ip:192.0.2.1", 1, both)).toBe("~s");
    expect(objectFor("sluice:b:ip-1s:ip:192.0.2.1", 1, both)).toBe("~s");
    expect(placementOf([stable]).size).toBe(0);
  });

  it("spreads a group over its shards by subject, every owner of a subject in one", () => {
    const p = policy({ limits: [{ rate: "1000/min" }], rules: [rule("a", [{ rate: "5/s" }])] });
    const placement = placementOf([p]);
    const own = objectFor("sluice:a:ip-1s:ip:192.0.2.1", 8, placement);
    expect(own).toMatch(/^\*#[0-7]$/);
    expect(objectFor("sluice:*:app.ip-1m:ip:192.0.2.1", 8, placement)).toBe(own);
  });
});
