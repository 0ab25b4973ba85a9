/** @module policy/match — path patterns: syntax check, precompiled first-match-wins rule matching. */
import type { Rule, RuleMatch } from "./types.ts";

/** Finds the rule for a request; `undefined` means no rule applies (the request is not limited). */
export type Matcher = (method: string, path: string) => Rule | undefined;

/** One segment of a compiled pattern: a `:name` parameter or normalised literal text. */
export type Segment = { param: true } | { param: false; text: string };

/** A compiled path pattern (see {@link compilePattern}). */
export interface Pattern {
  /** `*` alone: every path. */
  all: boolean;
  /** Ends in `/*`: the segments below may be anything, including nothing. */
  prefix: boolean;
  segments: Segment[];
}

interface CompiledRule {
  rule: Rule;
  methods: ReadonlySet<string> | null;
  pattern: Pattern;
}

// RFC 3986 §3.3 pchar without "%" (handled separately as pct-encoded).
const PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;
const SAFE_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const PATTERN_SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+$/;
const PARAM = /^:[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks a path pattern and returns what is wrong with it, or `undefined` when it is valid.
 * Syntax: `*` alone (everything); `/`-separated segments that are literal (percent-encoded where
 * needed) or `:name` (one segment); an optional final `/*` (that prefix and anything below).
 *
 * @example
 * checkPathPattern("/api/*");   // → undefined
 * checkPathPattern("/api*");   // → 'expected "*" as a whole segment ("/api/*"), got "api*" in "/api*"'
 */
export function checkPathPattern(pattern: string): string | undefined {
  if (pattern === "*" || pattern === "/") return undefined;
  if (!pattern.startsWith("/")) {
    return `expected a path starting with "/" (or "*" for every path), got ${JSON.stringify(pattern)}`;
  }
  if (/[?#]/.test(pattern)) {
    return `expected a path without a query or fragment (only the path is matched), got ${JSON.stringify(pattern)}`;
  }
  const parts = pattern.slice(1).split("/");
  for (const [index, part] of parts.entries()) {
    const last = index === parts.length - 1;
    if (part === "") {
      return `expected no empty segments ("//" or a trailing "/"; requests are matched without them), got ${JSON.stringify(pattern)}`;
    }
    if (part === "*") {
      if (last) continue;
      return `expected "*" only as the last segment ("/api/*") or alone ("*"), got ${JSON.stringify(pattern)}`;
    }
    if (part.includes("*")) {
      return `expected "*" as a whole segment ("/api/*"), got ${JSON.stringify(part)} in ${JSON.stringify(pattern)}`;
    }
    if (part.startsWith(":")) {
      if (PARAM.test(part)) continue;
      return `expected a parameter name like ":id" after ":", got ${JSON.stringify(part)} in ${JSON.stringify(pattern)}`;
    }
    if (part === "." || part === "..") {
      // URL parsing removes dot segments before we see the path, so this could never match.
      return `expected no "." or ".." segments (URL parsing removes them, so they never match), got ${JSON.stringify(pattern)}`;
    }
    if (!PATTERN_SEGMENT.test(part)) {
      return `expected path characters or percent-encoding (like "%20") in segment ${JSON.stringify(part)} of ${JSON.stringify(pattern)}`;
    }
  }
  return undefined;
}

/**
 * Precompiles rules into a matcher; the first rule whose method and path match wins.
 *
 * - Methods are exact (compared upper-cased): `HEAD` is not implied by `GET`; list it if wanted.
 * - Paths are case-sensitive and matched segment by segment against the URL pathname as
 *   received (`new URL(req.url).pathname`). `/api/*` matches `/api`, `/api/` and everything
 *   below, never `/apix`. `:id` matches exactly one non-empty segment.
 * - Empty segments are ignored (`//api//x` is `/api/x`, `/login/` is `/login`), as origins that
 *   merge slashes would see it, so doubling a slash cannot dodge a limit.
 * - Percent-encoding is normalised per RFC 3986 §6.2.2 (hex upper-cased, unreserved characters
 *   decoded, so `/%61pi` is `/api`); an encoded slash `%2F` stays data inside one segment.
 * - Leftover `.`/`..` segments are resolved, in case a caller skipped URL parsing.
 *
 * Patterns are assumed valid (see {@link checkPathPattern}); `validatePolicy` guarantees that.
 *
 * @example
 * const match = compileMatcher(policy.rules);
 * match("POST", new URL(request.url).pathname)?.name; // → "login"
 */
export function compileMatcher(rules: readonly Rule[]): Matcher {
  const compiled: CompiledRule[] = rules.map((rule) => ({
    rule,
    methods: rule.match.methods === null ? null : new Set(rule.match.methods),
    pattern: compilePattern(rule.match.path),
  }));
  return function matchRule(method: string, path: string): Rule | undefined {
    const verb = method.toUpperCase();
    const segments = pathSegments(path);
    for (const entry of compiled) {
      if (entry.methods !== null && !entry.methods.has(verb)) continue;
      if (matchPattern(entry.pattern, segments)) return entry.rule;
    }
    return undefined;
  };
}

/**
 * True when every request that `later` would match is already taken by `earlier`, so `later`
 * can never be chosen (first match wins). Conservative: `false` when unsure.
 *
 * @example
 * shadows({ path: "/api/*", methods: null }, { path: "/api/:id", methods: ["GET"] }); // → true
 */
export function shadows(earlier: RuleMatch, later: RuleMatch): boolean {
  if (earlier.methods !== null) {
    if (later.methods === null) return false;
    const allowed = new Set(earlier.methods);
    if (!later.methods.every((m) => allowed.has(m))) return false;
  }
  const a = compilePattern(earlier.path);
  const b = compilePattern(later.path);
  if (a.all) return true;
  if (b.all) return false;
  if (a.prefix) {
    if (b.segments.length < a.segments.length) return false;
  } else if (b.prefix || b.segments.length !== a.segments.length) {
    return false;
  }
  return a.segments.every((seg, i) => {
    const other = b.segments[i];
    if (other === undefined) return false;
    if (seg.param) return true;
    return !other.param && other.text === seg.text;
  });
}

/**
 * Splits a pathname into normalised segments (see {@link compileMatcher} for the rules).
 *
 * @example
 * pathSegments("//api/%7euser/../x/"); // → ["api", "x"]
 */
export function pathSegments(path: string): string[] {
  const out: string[] = [];
  for (const raw of path.split("/")) {
    if (raw === "") continue;
    const seg = normaliseSegment(raw);
    if (seg === ".") continue;
    if (seg === "..") {
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return out;
}

/**
 * Compiles a valid path pattern: literal segments normalised as request paths are, so they compare
 * by string equality.
 *
 * @example
 * compilePattern("/api/:id/*"); // → { all: false, prefix: true, segments: [{ param: false, text: "api" }, { param: true }] }
 */
export function compilePattern(path: string): Pattern {
  if (path === "*") return { all: true, prefix: false, segments: [] };
  const parts = path.split("/").filter((p) => p !== "");
  const prefix = parts.at(-1) === "*";
  if (prefix) parts.pop();
  const segments = parts.map(
    (p): Segment =>
      p.startsWith(":") ? { param: true } : { param: false, text: normaliseSegment(p) },
  );
  return { all: false, prefix, segments };
}

function matchPattern(pattern: Pattern, segments: readonly string[]): boolean {
  if (pattern.all) return true;
  const want = pattern.segments;
  if (pattern.prefix ? segments.length < want.length : segments.length !== want.length) {
    return false;
  }
  for (let i = 0; i < want.length; i++) {
    const seg = want[i];
    if (seg !== undefined && !seg.param && seg.text !== segments[i]) return false;
  }
  return true;
}

/**
 * RFC 3986 §6.2.2 normalisation of one segment, so equivalent spellings compare equal:
 * decode %XX of unreserved characters, upper-case other %XX, and percent-encode raw characters
 * outside pchar (a caller may pass an already-decoded path such as Hono's `c.req.path`).
 */
function normaliseSegment(seg: string): string {
  if (SAFE_SEGMENT.test(seg)) return seg;
  let out = "";
  let i = 0;
  while (i < seg.length) {
    const ch = seg[i] ?? "";
    if (ch === "%" && /^[0-9A-Fa-f]{2}$/.test(seg.slice(i + 1, i + 3))) {
      const hex = seg.slice(i + 1, i + 3).toUpperCase();
      const decoded = String.fromCharCode(Number.parseInt(hex, 16));
      out += UNRESERVED.test(decoded) ? decoded : `%${hex}`;
      i += 3;
    } else if (PCHAR.test(ch)) {
      out += ch;
      i += 1;
    } else {
      const cp = seg.codePointAt(i) ?? 0;
      const char = String.fromCodePoint(cp);
      for (const byte of new TextEncoder().encode(char)) {
        out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
      }
      i += char.length;
    }
  }
  return out;
}
