/** @module identity/canonical — one canonical path per request: what rules match, and what the origin receives. */

/**
 * A request path in the two forms Sluice uses (README "Canonical path").
 * `canonicalPath(path)` on `path` gives the same value again.
 */
export interface CanonicalPath {
  /**
   * What the origin receives: dot segments resolved, empty segments dropped,
   * percent-encoding normalised (RFC 3986 §6.2.2: unreserved characters
   * decoded, other escapes upper-cased). Case, `;parameters` and a trailing
   * slash are kept: they can mean something to the origin.
   */
  path: string;
  /**
   * What rules match, one key per segment: fully decoded, NFKC-normalised,
   * lower-cased, without `;parameters` or trailing dots and spaces. Each
   * folding only makes more spellings reach a rule, never fewer.
   */
  segments: string[];
}

/** A path Sluice will not forward, because origins could read it in different ways. */
export interface PathRefusal {
  refused: string;
}

/** Longer paths are refused (Cloudflare's own URL limit is 16 KB). */
export const MAX_PATH_LENGTH = 16_384;

type Segment = { dot: "." | ".." } | { forward: string; key: string };

// RFC 3986 §3.3 pchar without "%", and its unreserved subset (§2.3).
const PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;
const SAFE_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const SEPARATOR = /[/\\]/;
// C0/C1 controls, NUL included, and invisible format characters (bidi overrides,
// zero-width spaces, soft hyphen, BOM): no route is spelled with them.
const INVISIBLE = /[\p{Cc}\p{Cf}]/u;
const ESCAPE = /%[0-9A-Fa-f]{2}/;
const ONLY_DOTS_AND_SPACES = /^[.\s]+$/u;
const TRAILING_DOTS_AND_SPACES = /[.\s]+$/u;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * Canonicalises a URL path (as `new URL(request.url).pathname` gives it, or
 * raw). Either every origin stack reads the result the way Sluice matches it,
 * or the path is refused; the refusals are where origins disagree:
 *
 * - `%2F` or `%5C` (a separator to some origins, data to others);
 * - `%` not followed by two hex digits; bytes that are not UTF-8 (overlong
 *   forms like `%C0%AF`, surrogates, truncated sequences);
 * - control characters (NUL, tab, CR, LF…) and invisible format characters;
 * - an escape that decodes to another escape (`%2561`: double-decoding origins);
 * - dot segments with parameters (`..;`), segments of only dots and spaces
 *   other than `.` and `..`, and look-alikes of `/`, `\` or dot segments
 *   (fullwidth `／`, `．．`) that NFKC folds into them;
 * - a path longer than {@link MAX_PATH_LENGTH}.
 *
 * `\` separates segments as `/` does (the URL standard reads it so for http).
 *
 * @example
 * canonicalPath("/API;v=1/./users//Bob.%2e/");
 * // → { path: "/API;v=1/users/Bob../", segments: ["api", "users", "bob"] }
 * canonicalPath("/api%2Fusers"); // → { refused: "an encoded \"/\" or \"\\\" (%2F, %5C)" }
 */
export function canonicalPath(pathname: string): CanonicalPath | PathRefusal {
  if (pathname === last.input) return last.output;
  const output = compute(pathname);
  last = { input: pathname, output };
  return output;
}

// One-entry memo: the gateway and the middleware canonicalise the same path in turn.
let last: { input: string; output: CanonicalPath | PathRefusal } = {
  input: "/",
  output: { path: "/", segments: [] },
};

const byRequest = new WeakMap<Request, CanonicalPath | PathRefusal>();

/**
 * The canonical path of a request, computed once per `Request`.
 *
 * @example
 * const path = canonicalOf(c.req.raw);
 * if ("refused" in path) throw badPath(path.refused);
 */
export function canonicalOf(req: Request): CanonicalPath | PathRefusal {
  let known = byRequest.get(req);
  if (!known) {
    known = canonicalPath(new URL(req.url).pathname);
    byRequest.set(req, known);
  }
  return known;
}

/**
 * The match key of one pattern segment, as request segments get theirs; a
 * refusal, or `undefined` for `.`/`..`, when no request could match it.
 *
 * @example
 * segmentKey("Caf%C3%A9"); // → "café"
 */
export function segmentKey(raw: string): string | PathRefusal | undefined {
  const seg = segment(raw);
  if ("refused" in seg) return seg;
  return "dot" in seg ? undefined : seg.key;
}

function compute(pathname: string): CanonicalPath | PathRefusal {
  if (pathname.length > MAX_PATH_LENGTH) {
    return { refused: `a path longer than ${MAX_PATH_LENGTH} characters` };
  }
  const normal = pathname === "" ? "/" : pathname.replace(/\\/g, "/");
  if (!normal.startsWith("/")) return { refused: 'a path that does not start with "/"' };
  const parts = normal.slice(1).split("/");
  // Empty segments take part in dot-segment removal (RFC 3986 §5.2.4, as the URL
  // standard does: "/a//.." is "/a/"), and are dropped after it.
  const resolved: ({ forward: string; key: string } | null)[] = [];
  let trailingSlash = false;
  for (const [index, raw] of parts.entries()) {
    const lastPart = index === parts.length - 1;
    if (raw === "") {
      if (lastPart) trailingSlash = true;
      else resolved.push(null);
      continue;
    }
    const seg = segment(raw);
    if ("refused" in seg) return seg;
    if ("dot" in seg) {
      if (seg.dot === "..") resolved.pop();
      // "/a/b/.." resolves to "/a/".
      trailingSlash = lastPart;
      continue;
    }
    resolved.push(seg);
    trailingSlash = false;
  }
  const kept = resolved.filter((s) => s !== null);
  const forward = kept.map((s) => s.forward).join("/");
  return {
    path: `/${forward}${trailingSlash && kept.length > 0 ? "/" : ""}`,
    segments: kept.map((s) => s.key).filter((k) => k !== ""),
  };
}

function segment(raw: string): Segment | PathRefusal {
  if (BAD_ESCAPE.test(raw)) return { refused: 'a "%" not followed by two hex digits' };
  const text = decode(raw);
  if (text === undefined) {
    return { refused: "bytes that are not UTF-8 (overlong, surrogate or truncated)" };
  }
  if (SEPARATOR.test(text)) return { refused: 'an encoded "/" or "\\" (%2F, %5C)' };
  if (INVISIBLE.test(text)) return { refused: "a control or invisible format character" };
  if (ESCAPE.test(text)) return { refused: "a percent-encoded escape (double encoding)" };
  const bare = withoutParameters(text);
  if (bare === "." || bare === "..") {
    // Tomcat reads "..;x" as "..", other origins as a name: refuse rather than guess.
    if (bare !== text) return { refused: `a dot segment with parameters (${bare};)` };
    return { dot: bare };
  }
  const folded = text.normalize("NFKC");
  if (SEPARATOR.test(folded)) return { refused: 'a look-alike of "/" or "\\"' };
  const base = withoutParameters(folded);
  if (ONLY_DOTS_AND_SPACES.test(base)) {
    // Windows origins drop trailing dots and spaces, turning ".. " into "..".
    return { refused: "a segment of only dots and spaces" };
  }
  return {
    forward: normaliseEncoding(raw),
    key: base.toLowerCase().replace(TRAILING_DOTS_AND_SPACES, ""),
  };
}

/** `;parameters` (RFC 3986 §3.3) go: origins that read them strip them. */
function withoutParameters(text: string): string {
  const at = text.indexOf(";");
  return at < 0 ? text : text.slice(0, at);
}

/** Percent-decodes as UTF-8; undefined when the bytes are not UTF-8. */
function decode(raw: string): string | undefined {
  if (!raw.includes("%")) return raw;
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; ) {
    if (raw[i] === "%") {
      bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const char = String.fromCodePoint(raw.codePointAt(i) ?? 0);
    bytes.push(...encoder.encode(char));
    i += char.length;
  }
  try {
    return utf8.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

/**
 * RFC 3986 §6.2.2 normalisation of one segment: decode %XX of unreserved
 * characters, upper-case the hex of the others, and percent-encode raw
 * characters outside pchar (as UTF-8).
 */
function normaliseEncoding(seg: string): string {
  if (SAFE_SEGMENT.test(seg)) return seg;
  let out = "";
  for (let i = 0; i < seg.length; ) {
    const ch = seg[i] ?? "";
    if (ch === "%") {
      const hex = seg.slice(i + 1, i + 3).toUpperCase();
      const decoded = String.fromCharCode(Number.parseInt(hex, 16));
      out += UNRESERVED.test(decoded) ? decoded : `%${hex}`;
      i += 3;
    } else if (PCHAR.test(ch)) {
      out += ch;
      i += 1;
    } else {
      const char = String.fromCodePoint(seg.codePointAt(i) ?? 0);
      for (const byte of encoder.encode(char)) {
        out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
      }
      i += char.length;
    }
  }
  return out;
}
