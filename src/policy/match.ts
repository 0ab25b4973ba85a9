/** @module policy/match — path patterns: syntax check, precompiled first-match-wins rule matching. */
import { type CanonicalPath, canonicalPath, segmentKey } from "../identity/canonical.ts";
import type { Rule, RuleMatch } from "./types.ts";

/**
 * Finds the rule for a request; `undefined` means no rule applies (the request is not limited).
 * A path string is canonicalised first; one the canonicaliser refuses matches no rule, so callers
 * canonicalise first and refuse such paths themselves (the middleware answers 400).
 */
export type Matcher = (method: string, path: string | CanonicalPath) => Rule | undefined;

/** One segment of a compiled pattern: a `:name` parameter or a literal match key. */
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
    const unmatchable = canonicalProblem(part, pattern);
    if (unmatchable) return unmatchable;
  }
  return undefined;
}

/** A literal segment that no canonical request path can spell, so it could never match. */
function canonicalProblem(part: string, pattern: string): string | undefined {
  const key = segmentKey(part);
  const quoted = `${JSON.stringify(part)} of ${JSON.stringify(pattern)}`;
  if (key !== undefined && typeof key !== "string") {
    return `expected a segment requests can reach (they are refused with ${key.refused}), got ${quoted}`;
  }
  if (/;|%3b/i.test(part)) {
    return `expected no ";" parameters (requests are matched without them), got ${quoted}`;
  }
  if (/(?:\.|%2e|%20)$/i.test(part)) {
    return `expected no trailing "." or space (requests are matched without them), got ${quoted}`;
  }
  return undefined;
}

/**
 * Precompiles rules into a matcher; the first rule whose method and path match wins.
 *
 * - Methods are exact (compared upper-cased): `HEAD` is not implied by `GET`; list it if wanted.
 * - Paths are matched segment by segment on the canonical path's match keys (see
 *   `canonicalPath`): decoded, case-insensitive, without `;parameters`, trailing dots or
 *   spaces, dot segments resolved and empty segments ignored, so no spelling of a path dodges
 *   its rule. `/api/*` matches `/api`, `/api/` and everything below, never `/apix`. `:id`
 *   matches exactly one non-empty segment.
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
  return function matchRule(method: string, path: string | CanonicalPath): Rule | undefined {
    const verb = method.toUpperCase();
    const canonical = typeof path === "string" ? canonicalPath(path) : path;
    if ("refused" in canonical) return undefined;
    const segments = canonical.segments;
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
 * A pathname's match keys (see {@link compileMatcher}), or `undefined` when it is refused.
 *
 * @example
 * pathSegments("//API/%7euser/../x;v=2/"); // → ["api", "x"]
 */
export function pathSegments(path: string): string[] | undefined {
  const canonical = canonicalPath(path);
  return "refused" in canonical ? undefined : canonical.segments;
}

/**
 * Compiles a valid path pattern: literal segments become match keys as request segments do, so
 * they compare by string equality.
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
    (p): Segment => (p.startsWith(":") ? { param: true } : { param: false, text: literalKey(p) }),
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

/** A valid pattern's literal segment as a match key (the pattern checker refuses the others). */
function literalKey(segment: string): string {
  const key = segmentKey(segment);
  return typeof key === "string" ? key : segment;
}
