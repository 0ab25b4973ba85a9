/**
 * @module test/node/origins/canonical-path — the canonical path against how real origin stacks route.
 *
 * Two real servers report how they read a request target: Node's http server
 * (the URL standard's pathname, and that decoded, as most Node routers take it)
 * and Python's wsgiref (PATH_INFO, percent-decoded by the server). On top of
 * each view run the routing conventions of common frameworks: exact, Express
 * (case-insensitive, optional trailing slash), Tomcat/Spring (`;parameters`
 * stripped, slashes merged, dot segments resolved), IIS (case-insensitive,
 * trailing dots and spaces dropped) and NFKC-folding routers. For every
 * spelling Sluice accepts, no origin may route what it receives to a handler
 * other than the one whose rule Sluice applied.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalPath } from "../../../src/identity/canonical.ts";
import { compileMatcher } from "../../../src/policy/match.ts";
import { RULE_DEFAULTS } from "../../../src/policy/protect.ts";
import type { Rule } from "../../../src/policy/types.ts";
import { nodeOrigin, type Origin, wsgiOrigin } from "./origins.ts";

type Handler = "api" | "login" | "other";

function rule(name: string, path: string): Rule {
  return {
    name,
    match: { path, methods: null },
    limits: [],
    ...RULE_DEFAULTS,
  };
}

const match = compileMatcher([rule("login", "/login"), rule("api", "/api/*")]);

const handlerOf = (p: string): Handler =>
  p === "/login" ? "login" : p === "/api" || p.startsWith("/api/") ? "api" : "other";

function resolveDots(p: string): string {
  const out: string[] = [];
  for (const seg of p.split("/").slice(1)) {
    if (seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return `/${out.join("/")}`;
}
const mergeSlashes = (p: string) => p.replace(/\/{2,}/g, "/");
const stripParams = (p: string) =>
  p
    .split("/")
    .map((s) => s.split(";")[0])
    .join("/");
const stripTrailingSlash = (p: string) => (p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p);
const stripTrailingDots = (p: string) =>
  p
    .replace(/\\/g, "/")
    .split("/")
    .map((s) => (s === "." || s === ".." ? s : s.replace(/[. ]+$/, "")))
    .join("/");

/** Routing conventions of common origin frameworks, applied to a stack's view of the path. */
const ROUTERS: Record<string, (path: string) => Handler> = {
  exact: (p) => handlerOf(p),
  express: (p) => handlerOf(stripTrailingSlash(p.toLowerCase())),
  tomcat: (p) => handlerOf(stripTrailingSlash(resolveDots(mergeSlashes(stripParams(p))))),
  iis: (p) => handlerOf(resolveDots(mergeSlashes(stripTrailingDots(p))).toLowerCase()),
  nfkc: (p) => handlerOf(p.normalize("NFKC").toLowerCase()),
};

/** What a Worker gets for a request target: the URL standard's parse, as workerd does. */
const runtimeParse = (target: string) => new URL(`http://gw.test${target}`).pathname;

// The audit's spellings of /api/hello and /login (F1), and more of the same kinds.
const AUDIT_SPELLINGS = [
  "/api/hello",
  "/api%2Fhello",
  "/api%2fhello",
  "/%2Fapi/hello",
  "/API/hello",
  "/Api/hello",
  "/aPI/hello",
  "/api;jsessionid=1/hello",
  "/api;/hello",
  "/api%3bx/hello",
  "/api/..;/api/hello",
  "/api;x=1/hello;y",
  "/api./hello",
  "/api%2e/hello",
  "/api%20/hello",
  "/api%09/hello",
  "/api%0a/hello",
  "/api%00/hello",
  "/api%5chello",
  "/api\\hello",
  "/ap%69/hello",
  "/%61%70%69/hello",
  "/api~/hello",
  "/api/%2e%2e/hello",
  "/x/../api/hello",
  "/x/%2e%2e/api/hello",
  "/%2561pi/hello",
  "/api%252fhello",
  "/%EF%BC%A1pi/hello",
  "/%EF%BD%81%EF%BD%90%EF%BD%89/hello",
  "/.api/hello",
  "//api/hello",
  "/api//hello",
  "/./api/./hello",
  "/api/hello/",
  "/api/hello/.",
  "/api%C0%AFhello",
  "/api%E2%80%8B/hello",
  "/api%C2%A0/hello",
  "/api%EF%BC%8Fhello",
  "/login",
  "/LOGIN",
  "/Login",
  "/login;",
  "/login;jsessionid=x",
  "/login%2f",
  "/login.",
  "/login%20",
  "/login%2e",
  "/login/",
  "//login",
  "/login%3b",
  "/log%69n",
  "/login..",
  "/login.%20.",
  "/x/..%2flogin",
];

/** Generated spellings: route names and tricky pieces, joined by separators. */
function generatedSpellings(seed: number, count: number): string[] {
  const name = fc.constantFrom("api", "API", "Api", "login", "LOGIN", "hello", "x", "public");
  const piece = fc.oneof(
    name,
    fc.constantFrom(
      ".",
      "..",
      "%2e",
      "%2E%2e",
      ".%2e",
      ";p",
      ";jsessionid=1",
      "%3B",
      "%2F",
      "%5C",
      "\\",
      "%20",
      "%09",
      "%00",
      "%61",
      "%69",
      "%6C",
      "%25",
      "%2561",
      "%C0%AF",
      "%C0%AE",
      "%EF%BC%A1",
      "%EF%BC%8E",
      "%E2%80%8B",
      "~",
      "",
    ),
  );
  const segment = fc.array(piece, { minLength: 1, maxLength: 3 }).map((p) => p.join(""));
  const path = fc
    .array(segment, { minLength: 1, maxLength: 4 })
    .chain((segs) =>
      fc
        .array(fc.constantFrom("/", "//", "\\"), { minLength: segs.length, maxLength: segs.length })
        .map((seps) => segs.map((s, i) => `${seps[i]}${s}`).join("")),
    );
  return fc.sample(path, { seed, numRuns: count });
}

const SEED = 20261202;

describe("the canonical path against real origin stacks", () => {
  let origins: Origin[] = [];
  beforeAll(async () => {
    origins = await Promise.all([nodeOrigin(), wsgiOrigin()]);
  });
  afterAll(async () => {
    await Promise.all(origins.map((o) => o.close()));
  });

  /**
   * Every (stack view, router) pair's handler for `target` as that stack
   * receives it; `resolved` keeps the view that resolves the target against a
   * base URL, which a leading "//" turns into a host name.
   */
  async function handlers(target: string, resolved = true): Promise<string[]> {
    const out: string[] = [];
    for (const origin of origins) {
      const view = await origin.see(target);
      if (!view) continue;
      const paths = Object.entries(view.paths).filter(([k]) => resolved || k !== "node-resolved");
      for (const [stack, path] of [...paths]) {
        if (!stack.startsWith("node")) continue;
        try {
          paths.push([`${stack}-decoded`, decodeURIComponent(path)]);
        } catch {
          // The router would answer 400: no handler runs.
        }
      }
      for (const [stack, path] of paths) {
        for (const [router, route] of Object.entries(ROUTERS)) {
          const handler = route(path);
          if (handler !== "other")
            out.push(`${handler} (${stack}/${router}: ${JSON.stringify(path)})`);
        }
      }
    }
    return out;
  }

  async function check(spelling: string): Promise<"refused" | Handler> {
    const seen = runtimeParse(spelling);
    const canonical = canonicalPath(seen);
    if ("refused" in canonical) return "refused";
    const applied = match("GET", canonical)?.name ?? "no rule";
    const where = `${JSON.stringify(spelling)} (rule: ${applied}, forwarded ${canonical.path})`;
    // What Sluice forwards: every origin routes it to the rule's handler or to none.
    for (const h of await handlers(canonical.path)) {
      expect(h.split(" ")[0], `${where}: origin routed the forwarded path to ${h}`).toBe(applied);
    }
    // Even the runtime's own parse, had it been forwarded as is, skips no rule, except where
    // a leading "//" makes a resolving origin read a host name (the next test).
    for (const h of await handlers(seen, false)) {
      expect(h.split(" ")[0], `${where}: origin routed ${seen} to ${h}`).toBe(applied);
    }
    return applied === "no rule" ? "other" : (applied as Handler);
  }

  it("agrees on every spelling from the audit, or refuses it", async () => {
    const outcomes: Record<string, string> = {};
    for (const spelling of AUDIT_SPELLINGS) outcomes[spelling] = await check(spelling);
    // The ones that skipped their rule before (audit F1) now meet it or are refused.
    for (const s of ["/API/hello", "/api;jsessionid=1/hello", "/api./hello", "/api%20/hello"]) {
      expect(outcomes[s], s).toBe("api");
    }
    for (const s of ["/api%2Fhello", "/api%00/hello", "/%2561pi/hello", "/api%C0%AFhello"]) {
      expect(outcomes[s], s).toBe("refused");
    }
    for (const s of ["/LOGIN", "/login;jsessionid=x", "/login.", "/login%20", "/login%2e"]) {
      expect(outcomes[s], s).toBe("login");
    }
  });

  it("never forwards a leading // that an origin resolving against a base reads as a host", async () => {
    const [node] = origins;
    const seen = runtimeParse("//evil/login");
    expect((await node?.see(seen))?.paths["node-resolved"]).toBe("/login");
    const canonical = canonicalPath(seen);
    expect(canonical).toMatchObject({ path: "/evil/login" });
    expect((await node?.see("/evil/login"))?.paths["node-resolved"]).toBe("/evil/login");
  });

  it(`agrees on 400 generated spellings (seed ${SEED})`, async () => {
    const counts = { refused: 0, api: 0, login: 0, other: 0 };
    for (const spelling of generatedSpellings(SEED, 400)) counts[await check(spelling)]++;
    // The corpus exercises every outcome.
    expect(
      Object.values(counts).every((n) => n > 0),
      JSON.stringify(counts),
    ).toBe(true);
  });
});
