/** @module gateway/origin — reads ORIGIN_URL; shared by the Worker and the offline deploy check. */

/** What is wrong with ORIGIN_URL, never quoting it (it may carry a key in its path or query). */
export interface OriginProblem {
  code: "ERR_SLUICE_ORIGIN_URL";
  /** Follows "ORIGIN_URL", e.g. "is not set". */
  message: string;
}

const NOT_ABSOLUTE = "is not an absolute URL (expected https://host/base-path)";

/**
 * The origin as a URL, or what is wrong with it, without its value: the
 * Worker's 500 and log say this (audit F15).
 *
 * @example
 * checkOrigin("api.internal");  // { code: "ERR_SLUICE_ORIGIN_URL", message: "is not an absolute URL (…)" }
 */
export function checkOrigin(raw: string | undefined): URL | OriginProblem {
  const problem = (message: string): OriginProblem => ({ code: "ERR_SLUICE_ORIGIN_URL", message });
  if (!raw) return problem("is not set");
  const url = URL.parse(raw);
  if (!url) return problem(NOT_ABSOLUTE);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return problem(`must be http or https, got ${url.protocol}`);
  }
  if (url.search || url.hash) return problem("must not carry a query or fragment");
  return url;
}

/**
 * The origin as a URL, or the coded error that keeps the gateway (and
 * `npm run deploy`) from going anywhere with it. For the offline check, on
 * the operator's own wrangler.toml, a malformed value is quoted.
 *
 * @example
 * parseOrigin("https://api.internal/v1");  // URL
 * parseOrigin("");                          // "ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not set"
 */
export function parseOrigin(raw: string | undefined): URL | string {
  const origin = checkOrigin(raw);
  if (origin instanceof URL) return origin;
  const shown =
    origin.message === NOT_ABSOLUTE
      ? `is not an absolute URL: ${JSON.stringify(raw)}`
      : origin.message;
  return `${origin.code}: ORIGIN_URL ${shown}`;
}
