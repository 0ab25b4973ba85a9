/** @module test/node/identity/identify — identify(): address, subnet key and hashed API key. */
import { describe, expect, it } from "vitest";
import { identify, MAX_API_KEY_LENGTH } from "../../../src/identity/index.ts";
import { hashApiKey } from "../../../src/identity/secret.ts";
import type { IdentityConfig } from "../../../src/policy/types.ts";

const cfg: IdentityConfig = {
  ip: { source: "cf-connecting-ip", trustedHops: 1, ipv6Subnet: 56 },
  apiKey: { header: "x-api-key", bearer: true },
};

const request = (headers: Record<string, string>) =>
  new Request("https://api.example/items", { headers });

// SHA-256 of "abc" (FIPS 180-2 test vector).
const ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

describe("identify", () => {
  it("returns the address and its key", async () => {
    expect(await identify(request({ "cf-connecting-ip": "203.0.113.7" }), cfg)).toEqual({
      ip: "203.0.113.7",
      ipKey: "203.0.113.7",
    });
    expect(await identify(request({ "cf-connecting-ip": "2001:db8:1200:ff::1" }), cfg)).toEqual({
      ip: "2001:db8:1200:ff::1",
      ipKey: "2001:db8:1200::/56",
    });
    expect(await identify(request({ "cf-connecting-ip": "::ffff:1.2.3.4" }), cfg)).toEqual({
      ip: "1.2.3.4",
      ipKey: "1.2.3.4",
    });
  });

  it("returns empty ip and ipKey when no address is found", async () => {
    expect(await identify(request({ "x-forwarded-for": "6.6.6.6" }), cfg)).toEqual({
      ip: "",
      ipKey: "",
    });
  });

  it("uses the trusted XFF hop when configured", async () => {
    const xffCfg: IdentityConfig = {
      ...cfg,
      ip: { source: "x-forwarded-for", trustedHops: 1, ipv6Subnet: 64 },
    };
    const id = await identify(request({ "x-forwarded-for": "6.6.6.6, 2001:db8:1:2:3::4" }), xffCfg);
    expect(id).toEqual({ ip: "2001:db8:1:2:3::4", ipKey: "2001:db8:1:2::/64" });
  });

  it("hashes a key from the configured header", async () => {
    const id = await identify(request({ "x-api-key": "abc" }), cfg);
    expect(id.apiKeyHash).toBe(ABC_SHA256);
  });

  it("reads a custom header name", async () => {
    const custom = { ...cfg, apiKey: { header: "x-client-token", bearer: false } };
    expect((await identify(request({ "X-Client-Token": "abc" }), custom)).apiKeyHash).toBe(
      ABC_SHA256,
    );
    expect((await identify(request({ "x-api-key": "abc" }), custom)).apiKeyHash).toBeUndefined();
  });

  it("hashes a Bearer key, scheme case-insensitive", async () => {
    for (const value of ["Bearer abc", "bearer abc", "BEARER   abc  "]) {
      const id = await identify(request({ authorization: value }), cfg);
      expect(id.apiKeyHash, value).toBe(ABC_SHA256);
    }
  });

  it("prefers the header when both are sent", async () => {
    const id = await identify(request({ "x-api-key": "abc", authorization: "Bearer other" }), cfg);
    expect(id.apiKeyHash).toBe(ABC_SHA256);
  });

  it("falls back to Bearer when the header is empty", async () => {
    const id = await identify(request({ "x-api-key": "  ", authorization: "Bearer abc" }), cfg);
    expect(id.apiKeyHash).toBe(ABC_SHA256);
  });

  it("ignores Bearer when bearer is off, and other schemes always", async () => {
    const noBearer = { ...cfg, apiKey: { header: "x-api-key", bearer: false } };
    expect((await identify(request({ authorization: "Bearer abc" }), noBearer)).apiKeyHash).toBe(
      undefined,
    );
    expect((await identify(request({ authorization: "Basic YWJjOmRlZg==" }), cfg)).apiKeyHash).toBe(
      undefined,
    );
    expect((await identify(request({ authorization: "Bearer" }), cfg)).apiKeyHash).toBe(undefined);
    expect((await identify(request({ authorization: "Bearerabc" }), cfg)).apiKeyHash).toBe(
      undefined,
    );
  });

  it("has no apiKeyHash property when neither is sent", async () => {
    const id = await identify(request({ "cf-connecting-ip": "203.0.113.7" }), cfg);
    expect("apiKeyHash" in id).toBe(false);
  });

  it("treats over-long keys and keys with spaces or control characters as absent", async () => {
    const longest = "k".repeat(MAX_API_KEY_LENGTH);
    expect((await identify(request({ "x-api-key": longest }), cfg)).apiKeyHash).toBe(
      await hashApiKey(longest),
    );
    const tooLong = `${longest}k`;
    expect((await identify(request({ "x-api-key": tooLong }), cfg)).apiKeyHash).toBeUndefined();
    expect((await identify(request({ "x-api-key": "a b" }), cfg)).apiKeyHash).toBeUndefined();
    expect((await identify(request({ "x-api-key": "a\tb" }), cfg)).apiKeyHash).toBeUndefined();
    expect(
      (await identify(request({ authorization: "Bearer a b" }), cfg)).apiKeyHash,
    ).toBeUndefined();
    // A malformed header key does not fall back to Bearer: the client chose the header.
    const both = request({ "x-api-key": tooLong, authorization: "Bearer abc" });
    expect((await identify(both, cfg)).apiKeyHash).toBeUndefined();
  });

  it("never returns the raw key", async () => {
    const raw = "sk_live_SECRET_0123456789";
    for (const headers of [{ "x-api-key": raw }, { authorization: `Bearer ${raw}` }]) {
      const id = await identify(request({ ...headers, "cf-connecting-ip": "203.0.113.7" }), cfg);
      expect(id.apiKeyHash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(id)).not.toContain(raw);
      expect(JSON.stringify(id)).not.toContain("SECRET");
    }
  });

  it("gives different keys different hashes", async () => {
    const a = await identify(request({ "x-api-key": "key-a" }), cfg);
    const b = await identify(request({ "x-api-key": "key-b" }), cfg);
    expect(a.apiKeyHash).not.toBe(b.apiKeyHash);
  });
});
