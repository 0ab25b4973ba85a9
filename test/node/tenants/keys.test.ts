/** @module test/node/tenants/keys — key hardening: impossible shapes, equal cost for unknown and revoked keys, caches under a spray, admin token strength. */
import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { adminTokenWeakness } from "../../../src/admin/auth.ts";
import { hasIssuedForm, mintKey } from "../../../src/tenants/api-keys.ts";
import { authenticate } from "../../../src/tenants/authenticate.ts";
import type { Directory } from "../../../src/tenants/directory.ts";
import type { AuthFailureGuard } from "../../../src/tenants/guard.ts";
import { KeyResolver } from "../../../src/tenants/resolver.ts";
import type { KeyRecord, Tenant } from "../../../src/tenants/types.ts";

const TENANT: Tenant = {
  id: "acme",
  plan: "pro",
  disabled: false,
  createdAt: "2026-12-01T00:00:00.000Z",
  overrides: [],
};
const key = (hash: string, disabled = false): KeyRecord => ({
  id: hash.slice(0, 16),
  tenant: "acme",
  prefix: "sk_live_abcd",
  createdAt: "2026-12-01T00:00:00.000Z",
  disabled,
});

/** A directory of `keys` that counts its reads. */
function directory(keys: Record<string, KeyRecord>) {
  const reads: string[] = [];
  const dir = {
    findKey: async (hash: string) => {
      reads.push("key");
      return keys[hash];
    },
    getTenant: async (id: string) => {
      reads.push("tenant");
      return id === "acme" ? TENANT : undefined;
    },
  } as unknown as Directory;
  return { dir, reads };
}

describe("issued-key form (audit F17)", () => {
  it("accepts minted keys and nothing else", async () => {
    for (let i = 0; i < 100; i++) {
      expect(hasIssuedForm((await mintKey("sk_live_")).secret, "sk_live_")).toBe(true);
    }
    for (const k of [
      "x0",
      "sk_live_",
      "sk_live_short",
      `sk_test_${"A".repeat(43)}`,
      `sk_live_${"A".repeat(44)}`,
      `sk_live_${"A".repeat(42)}=`,
      randomUUID(),
    ]) {
      expect(hasIssuedForm(k, "sk_live_"), k).toBe(false);
    }
  });

  it("refuses a malformed key with no resolver read and no guard write", async () => {
    const { dir, reads } = directory({});
    const touched: string[] = [];
    const guard = {
      lockedForMs: () => 0,
      fail: async () => {
        touched.push("fail");
        return 0;
      },
    } as unknown as AuthFailureGuard;
    const services = { resolver: new KeyResolver(dir, { ttlMs: 30_000 }), guard };
    const auth = await authenticate(services, "h".repeat(64), "203.0.113.7", 0, true);
    expect(auth).toEqual({ ok: false, reason: "invalid", keyProblem: "malformed" });
    expect(reads).toEqual([]);
    expect(touched).toEqual([]);
  });
});

describe("unknown and revoked keys cost the same (audit F12)", () => {
  it("reads the key and a tenant either way", async () => {
    const revoked = "r".repeat(64);
    const { dir, reads } = directory({ [revoked]: key(revoked, true) });
    const resolver = new KeyResolver(dir, { ttlMs: 30_000 });
    expect(await resolver.resolve("u".repeat(64), 0)).toEqual({ ok: false, reason: "unknown" });
    const unknownReads = reads.splice(0);
    expect(await resolver.resolve(revoked, 0)).toEqual({ ok: false, reason: "revoked" });
    expect(reads).toEqual(unknownReads);
    expect(unknownReads).toEqual(["key", "tenant"]);
  });
});

describe("the key cache under a spray of random keys (audit S5)", () => {
  it("keeps every valid key while 30,000 unknown ones pass through", async () => {
    const valid = Array.from({ length: 100 }, (_, i) => `${i}`.padStart(64, "v"));
    const { dir, reads } = directory(Object.fromEntries(valid.map((h) => [h, key(h)])));
    const resolver = new KeyResolver(dir, { ttlMs: 60_000 });
    for (const h of valid) expect((await resolver.resolve(h, 0)).ok).toBe(true);
    for (let i = 0; i < 30_000; i++) await resolver.resolve(randomBytes(32).toString("hex"), 1);
    reads.length = 0;
    for (const h of valid) {
      expect(resolver.isKnownValid(h, 2)).toBe(true);
      expect((await resolver.resolve(h, 2)).ok).toBe(true);
    }
    expect(reads).toEqual([]);
  });
});

describe("admin token strength (audit S6)", () => {
  it.each([
    ["a".repeat(32), "repeats a shorter pattern"],
    ["ab".repeat(20), "repeats a shorter pattern"],
    ["Password123Password123Password123", "repeats a shorter pattern"],
    ["abcdefghijklmnopqrstuvwxyz012345", "runs"],
    ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "runs"],
    ["short", "shorter than 32"],
  ])("refuses %j", (token, reason) => {
    expect(adminTokenWeakness(token, 32)).toContain(reason);
  });

  it("accepts 10,000 random tokens of each common kind", () => {
    const kinds = [
      () => randomBytes(32).toString("base64"),
      () => randomBytes(16).toString("hex"),
      () => randomBytes(24).toString("base64url"),
      () => randomUUID(),
    ];
    for (const make of kinds) {
      for (let i = 0; i < 10_000; i++) {
        const token = make();
        expect(adminTokenWeakness(token, 32), token).toBeUndefined();
      }
    }
  });
});
