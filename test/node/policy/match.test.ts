/** @module test/node/policy/match — first-match-wins rule matching and the paths that try to dodge it. */
import { describe, expect, it } from "vitest";
import {
  checkPathPattern,
  compileMatcher,
  pathSegments,
  shadows,
} from "../../../src/policy/match.ts";
import { RULE_DEFAULTS } from "../../../src/policy/protect.ts";
import type { Rule } from "../../../src/policy/types.ts";

function rule(name: string, path: string, methods: string[] | null = null): Rule {
  return {
    name,
    match: { path, methods },
    limits: [],
    ...RULE_DEFAULTS,
  };
}

/**
 * The pathname a Worker sees for a request target, as the URL parser leaves it. Concatenated,
 * not resolved against a base: `//api/x` as a reference would be a host name.
 */
const pathname = (target: string) => new URL(`https://gw.example${target}`).pathname;

describe("compileMatcher", () => {
  const match = compileMatcher([
    rule("login", "/login", ["POST"]),
    rule("user", "/api/users/:id", ["GET"]),
    rule("api", "/api/*"),
    rule("admin", "/admin"),
    rule("files", "/files/caf%C3%A9"),
  ]);
  const name = (method: string, path: string) => match(method, path)?.name;

  it("lets the first matching rule win", () => {
    expect(name("GET", "/api/users/42")).toBe("user");
    expect(name("POST", "/api/users/42")).toBe("api");
    expect(name("GET", "/api/users/42/posts")).toBe("api");
  });

  it("returns undefined when no rule matches", () => {
    expect(match("GET", "/")).toBeUndefined();
    expect(match("GET", "/other")).toBeUndefined();
  });

  it("matches methods exactly: GET does not imply HEAD", () => {
    expect(name("POST", "/login")).toBe("login");
    expect(name("GET", "/login")).toBeUndefined();
    expect(name("HEAD", "/api/users/42")).toBe("api");
    const onlyGet = compileMatcher([rule("g", "/x", ["GET"])]);
    expect(onlyGet("HEAD", "/x")).toBeUndefined();
  });

  it("compares methods upper-cased, so a lower-case method cannot dodge a rule", () => {
    expect(name("post", "/login")).toBe("login");
  });

  it("treats /api/* as /api itself and everything below it, but not /apix", () => {
    expect(name("GET", "/api")).toBe("api");
    expect(name("GET", "/api/")).toBe("api");
    expect(name("GET", "/api/x/y/z")).toBe("api");
    expect(name("GET", "/apix")).toBeUndefined();
    expect(name("GET", "/apix/y")).toBeUndefined();
  });

  it("matches :param against exactly one segment", () => {
    const m = compileMatcher([rule("one", "/u/:id")]);
    expect(m("GET", "/u/7")?.name).toBe("one");
    expect(m("GET", "/u")).toBeUndefined();
    expect(m("GET", "/u/7/x")).toBeUndefined();
  });

  it("matches exact paths only exactly", () => {
    expect(name("POST", "/login/extra")).toBeUndefined();
    expect(name("POST", "/log")).toBeUndefined();
  });

  it("is not fooled by doubled or trailing slashes", () => {
    expect(pathname("//api/x")).toBe("//api/x");
    expect(name("GET", pathname("//api/x"))).toBe("api");
    expect(name("GET", pathname("/api//x"))).toBe("api");
    expect(name("POST", pathname("//login"))).toBe("login");
    expect(name("POST", pathname("/login/"))).toBe("login");
  });

  it("is case-insensitive, as Express and IIS route: /API/x is /api/x", () => {
    expect(pathname("/API/x")).toBe("/API/x");
    expect(name("GET", pathname("/API/x"))).toBe("api");
    expect(name("POST", "/LOGIN")).toBe("login");
  });

  it("ignores ;parameters and trailing dots and spaces, as Java and Windows origins do", () => {
    expect(name("POST", pathname("/login;jsessionid=1"))).toBe("login");
    expect(name("GET", pathname("/api;v=1/x"))).toBe("api");
    expect(name("POST", pathname("/login."))).toBe("login");
    expect(name("POST", pathname("/login%20"))).toBe("login");
    expect(name("GET", pathname("/api%2e/x"))).toBe("api");
  });

  it("sees dot segments already resolved by the URL parser", () => {
    expect(pathname("/api/../admin")).toBe("/admin");
    expect(name("GET", pathname("/api/../admin"))).toBe("admin");
    expect(pathname("/api/%2e%2E/admin")).toBe("/admin");
    expect(name("GET", pathname("/api/%2e%2E/admin"))).toBe("admin");
  });

  it("also resolves dot segments when a caller skipped URL parsing", () => {
    expect(name("GET", "/api/../admin")).toBe("admin");
    expect(name("GET", "/api/./x")).toBe("api");
    expect(name("GET", "/../../admin")).toBe("admin");
  });

  it("matches no rule for a path the canonicaliser refuses, such as one with %2F", () => {
    // The middleware refuses these with 400 before matching; the matcher never guesses.
    expect(pathname("/api%2Fx")).toBe("/api%2Fx");
    expect(name("GET", pathname("/api%2Fx"))).toBeUndefined();
    expect(name("GET", "/api/users/a%2fb")).toBeUndefined();
  });

  it("decodes percent-encoded unreserved characters, so /%61pi is /api", () => {
    expect(pathname("/%61pi/x")).toBe("/%61pi/x");
    expect(name("GET", pathname("/%61pi/x"))).toBe("api");
    expect(name("POST", "/%6C%6f%67%69%6E")).toBe("login");
  });

  it("treats encoded and already-decoded spellings alike (e.g. Hono's c.req.path)", () => {
    expect(pathname("/files/café")).toBe("/files/caf%C3%A9");
    expect(name("GET", pathname("/files/café"))).toBe("files");
    expect(name("GET", "/files/caf%c3%a9")).toBe("files");
    expect(name("GET", decodeURI("/files/caf%C3%A9"))).toBe("files");
  });

  it("matches every path with * alone, and with /*", () => {
    for (const pattern of ["*", "/*"]) {
      const m = compileMatcher([rule("all", pattern)]);
      for (const p of ["/", "/x", "/a/b/c", "//"])
        expect(m("DELETE", p)?.name, `${pattern} ${p}`).toBe("all");
    }
  });

  it("matches / only for the root", () => {
    const m = compileMatcher([rule("root", "/")]);
    expect(m("GET", "/")?.name).toBe("root");
    expect(m("GET", "/x")).toBeUndefined();
  });
});

describe("pathSegments", () => {
  it("gives a pathname's match keys, or undefined when it is refused", () => {
    expect(pathSegments("//api/%7euser/../x/")).toEqual(["api", "x"]);
    expect(pathSegments("/A/caf%C3%A9/ü;x")).toEqual(["a", "café", "ü"]);
    expect(pathSegments("/a%2fb")).toBeUndefined();
    expect(pathSegments("/%zz")).toBeUndefined();
  });
});

describe("checkPathPattern", () => {
  it.each(["*", "/", "/*", "/login", "/api/*", "/users/:id/posts", "/files/caf%C3%A9", "/a:b/@x"])(
    "accepts %j",
    (pattern) => {
      expect(checkPathPattern(pattern)).toBeUndefined();
    },
  );

  it.each([
    ["api", 'expected a path starting with "/" (or "*" for every path), got "api"'],
    ["", 'expected a path starting with "/" (or "*" for every path), got ""'],
    ["/a/*/b", 'expected "*" only as the last segment ("/api/*") or alone ("*"), got "/a/*/b"'],
    ["/a*", 'expected "*" as a whole segment ("/api/*"), got "a*" in "/a*"'],
    ["/**", 'expected "*" as a whole segment ("/api/*"), got "**" in "/**"'],
    [
      "//a",
      'expected no empty segments ("//" or a trailing "/"; requests are matched without them), got "//a"',
    ],
    [
      "/a/",
      'expected no empty segments ("//" or a trailing "/"; requests are matched without them), got "/a/"',
    ],
    [
      "/a/./b",
      'expected no "." or ".." segments (URL parsing removes them, so they never match), got "/a/./b"',
    ],
    ["/a#x", 'expected a path without a query or fragment (only the path is matched), got "/a#x"'],
    ["/u/:1", 'expected a parameter name like ":id" after ":", got ":1" in "/u/:1"'],
    [
      "/100%",
      'expected path characters or percent-encoding (like "%20") in segment "100%" of "/100%"',
    ],
    [
      "/café",
      'expected path characters or percent-encoding (like "%20") in segment "café" of "/café"',
    ],
    [
      "/a%2Fb",
      'expected a segment requests can reach (they are refused with an encoded "/" or "\\" (%2F, %5C)), got "a%2Fb" of "/a%2Fb"',
    ],
    [
      "/login;x",
      'expected no ";" parameters (requests are matched without them), got "login;x" of "/login;x"',
    ],
    [
      "/login.",
      'expected no trailing "." or space (requests are matched without them), got "login." of "/login."',
    ],
  ])("rejects %j", (pattern, message) => {
    expect(checkPathPattern(pattern)).toBe(message);
  });
});

describe("shadows", () => {
  const m = (path: string, methods: string[] | null = null) => ({ path, methods });
  it.each([
    [m("*"), m("/x", ["GET"]), true],
    [m("/api/*"), m("/api/:id", ["GET"]), true],
    [m("/api/*"), m("/api"), true],
    [m("/api/:id"), m("/api/x"), true],
    [m("/login"), m("/login"), true],
    [m("/x", ["GET", "POST"]), m("/x", ["POST"]), true],
    [m("/x", ["GET"]), m("/x"), false],
    [m("/x", ["GET"]), m("/x", ["GET", "POST"]), false],
    [m("/api/x"), m("/api/:id"), false],
    [m("/api/:id"), m("/api/*"), false],
    [m("/api"), m("/api/*"), false],
    [m("/api/*"), m("*"), false],
    [m("/a/*"), m("/b/*"), false],
  ])("%j before %j → %s", (earlier, later, expected) => {
    expect(shadows(earlier, later)).toBe(expected);
  });
});
