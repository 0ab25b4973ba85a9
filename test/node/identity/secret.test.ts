/** @module test/node/identity/secret — SHA-256 hex of API keys, and the hex/base64url helpers. */
import { describe, expect, it } from "vitest";
import { hashApiKey } from "../../../src/identity/secret.ts";
import { base64url, sha256Hex, toHex } from "../../../src/util/encoding.ts";

describe("sha256Hex / hashApiKey", () => {
  it.each([
    // FIPS 180-2 test vectors.
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ])("sha256Hex(%j)", async (input, expected) => {
    expect(await sha256Hex(input)).toBe(expected);
    expect(await hashApiKey(input)).toBe(expected);
  });

  it("hashes UTF-8 bytes", async () => {
    // "é" is c3 a9 in UTF-8; its digest differs from the Latin-1 byte e9.
    expect(await sha256Hex("é")).not.toBe(await sha256Hex("\u00e9".normalize("NFD")));
    expect(await sha256Hex("é")).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("toHex / base64url", () => {
  it("encodes every byte value", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(toHex(all)).toBe(Buffer.from(all).toString("hex"));
    expect(base64url(all)).toBe(Buffer.from(all).toString("base64url"));
  });

  it("leaves no padding", () => {
    expect(base64url(new Uint8Array([251, 255]))).toBe("-_8");
  });
});
