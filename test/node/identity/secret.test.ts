/** @module test/node/identity/secret — SHA-256 hex and constant-time comparison. */
import { describe, expect, it } from "vitest";
import {
  hashApiKey,
  secretEquals,
  sha256Hex,
  timingSafeEqual,
} from "../../../src/identity/secret.ts";

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

describe("timingSafeEqual", () => {
  it.each([
    ["", "", true],
    ["s3cret", "s3cret", true],
    ["s3cret", "s3creT", false],
    ["s3cret", "S3cret", false],
    ["s3cret", "s3cre", false],
    ["s3cre", "s3cret", false],
    ["", "x", false],
    ["a\u0000", "a", false], // a trailing NUL must not compare equal to padding
    ["é", "e\u0301", false],
    ["ключ", "ключ", true],
  ])("(%j, %j) → %s", (a, b, expected) => {
    expect(timingSafeEqual(a, b)).toBe(expected);
  });
});

describe("secretEquals", () => {
  it("compares by hash", async () => {
    expect(await secretEquals("token-1", "token-1")).toBe(true);
    expect(await secretEquals("token-1", "token-2")).toBe(false);
    expect(await secretEquals("token-1", "token-10")).toBe(false);
  });
});
