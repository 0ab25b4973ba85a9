/** @module test/node/identity/canonical — the canonical path: each rule of README "Canonical path", and its invariants. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CanonicalPath,
  canonicalOf,
  canonicalPath,
  MAX_PATH_LENGTH,
} from "../../../src/identity/canonical.ts";

/** What a Worker sees for a request target: the URL standard's parse of it. */
const whatwg = (target: string) => new URL(`https://gw.example${target}`).pathname;

function accepted(input: string): CanonicalPath {
  const out = canonicalPath(input);
  if ("refused" in out) throw new Error(`${input} refused: ${out.refused}`);
  return out;
}

describe("canonicalPath folds spellings onto one rule", () => {
  it.each([
    ["case", "/API/Users", "/API/Users", ["api", "users"]],
    ["unreserved escapes", "/%61pi/%7Euser", "/api/~user", ["api", "~user"]],
    ["other escapes, hex upper-cased", "/caf%c3%a9/a%20b", "/caf%C3%A9/a%20b", ["café", "a b"]],
    ["raw non-ASCII", "/café", "/caf%C3%A9", ["café"]],
    ["NFKC look-alikes", "/%EF%BC%A1pi", "/%EF%BC%A1pi", ["api"]],
    ["duplicate slashes", "//api///x", "/api/x", ["api", "x"]],
    ["dot segments", "/a/./b/../api/x", "/a/api/x", ["a", "api", "x"]],
    ["encoded dot segments", "/a/%2e%2E/api/.%2e/x", "/x", ["x"]],
    ["dot segments past the root", "/../../api", "/api", ["api"]],
    ["trailing dot segment", "/api/x/..", "/api/", ["api"]],
    ["backslash as a separator", "/api\\x", "/api/x", ["api", "x"]],
    [";parameters", "/login;jsessionid=1/x;v=2", "/login;jsessionid=1/x;v=2", ["login", "x"]],
    ["encoded ;", "/login%3Bx", "/login%3Bx", ["login"]],
    ["a segment of parameters only", "/api/;x/y", "/api/;x/y", ["api", "y"]],
    [
      "trailing dots and spaces",
      "/login./api%20/b%2e%2e",
      "/login./api%20/b..",
      ["login", "api", "b"],
    ],
    ["trailing slash", "/login/", "/login/", ["login"]],
    ["root", "/", "/", []],
    ["empty", "", "/", []],
    ["a literal percent sign", "/100%25", "/100%25", ["100%"]],
  ])("%s: %j → %j %j", (_rule, input, path, segments) => {
    expect(canonicalPath(input)).toEqual({ path, segments });
  });
});

describe("canonicalPath refuses what origins read differently", () => {
  it.each([
    ["an encoded slash", "/api%2Fx", "%2F"],
    ["an encoded slash, lower case", "/api%2fx", "%2F"],
    ["an encoded backslash", "/api%5Cx", "%5C"],
    ["a bad escape", "/api%zz", '"%"'],
    ["a truncated escape", "/api%4", '"%"'],
    ["a lone %", "/100%", '"%"'],
    ["NUL", "/login%00", "control"],
    ["tab", "/login%09", "control"],
    ["LF", "/login%0a", "control"],
    ["DEL", "/login%7F", "control"],
    ["a C1 control", "/login%C2%85", "control"],
    ["a zero-width space", "/log%E2%80%8Bin", "invisible"],
    ["a bidi override", "/%E2%80%AEnigol", "invisible"],
    ["overlong /", "/api%C0%AFx", "UTF-8"],
    ["overlong .", "/%C0%AE%C0%AE/api", "UTF-8"],
    ["overlong 3-byte", "/%E0%80%AF", "UTF-8"],
    ["a surrogate", "/%ED%A0%80", "UTF-8"],
    ["an invalid byte", "/%FF", "UTF-8"],
    ["a truncated sequence", "/%C3", "UTF-8"],
    ["double encoding", "/%2561pi", "double"],
    ["double-encoded slash", "/api%252Fx", "double"],
    ["..;", "/public/..;/api", "parameters"],
    [".;x", "/api/.;x/y", "parameters"],
    ["three dots", "/a/.../b", "dots and spaces"],
    ["dots and a space", "/a/..%20/b", "dots and spaces"],
    ["a space alone", "/a/%20/b", "dots and spaces"],
    ["fullwidth dots", "/a/%EF%BC%8E%EF%BC%8E/b", "dots and spaces"],
    ["two-dot leader", "/a/%E2%80%A5/b", "dots and spaces"],
    ["fullwidth solidus", "/api%EF%BC%8Fx", "look-alike"],
    ["fullwidth reverse solidus", "/api%EF%BC%BCx", "look-alike"],
    ["a relative path", "api/x", "start"],
    ["too long", `/${"a".repeat(MAX_PATH_LENGTH)}`, "longer"],
  ])("%s: %j", (_what, input, reason) => {
    const out = canonicalPath(input);
    expect(out).toHaveProperty("refused");
    expect((out as { refused: string }).refused).toContain(reason);
  });
});

describe("canonicalPath's invariants", () => {
  const piece = fc.constantFrom(
    "api",
    "API",
    "login",
    "x",
    ".",
    "..",
    "%2e",
    "%2E%2e",
    "",
    ";p=1",
    "a;b",
    "%61",
    "%7e",
    "%20",
    "%C3%A9",
    "é",
    "%3B",
    "%25",
    "%2F",
    "%00",
    "%zz",
    "%C0%AF",
    "%EF%BC%A1",
    "~",
    "\\",
    ".",
    "a.",
  );
  const path = fc
    .array(fc.array(piece, { minLength: 1, maxLength: 3 }), { maxLength: 6 })
    .map((segs) => `/${segs.map((s) => s.join("")).join("/")}`);

  it("is idempotent: the forwarded path canonicalises to itself", () => {
    fc.assert(
      fc.property(path, (p) => {
        const out = canonicalPath(p);
        if ("refused" in out) return;
        expect(canonicalPath(out.path)).toEqual(out);
      }),
      { numRuns: 2000 },
    );
  });

  it("forwards a path the URL standard leaves unchanged (no new dot segments or separators)", () => {
    fc.assert(
      fc.property(path, (p) => {
        const out = canonicalPath(p);
        if ("refused" in out) return;
        expect(whatwg(out.path)).toBe(out.path);
      }),
      { numRuns: 2000 },
    );
  });

  it("agrees with itself before and after the runtime's URL parsing", () => {
    fc.assert(
      fc.property(path, (p) => {
        const raw = canonicalPath(p);
        const parsed = canonicalPath(whatwg(p));
        if ("refused" in raw) return;
        expect(parsed).toEqual(raw);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        const out = canonicalPath(`/${s}`);
        expect("refused" in out || out.path.startsWith("/")).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it("is computed once per request", () => {
    const req = new Request("https://gw.example/A/./b");
    expect(canonicalOf(req)).toBe(canonicalOf(req));
    expect(accepted("/A/./b")).toEqual(canonicalOf(req));
  });
});
