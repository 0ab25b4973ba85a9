/** @module gateway/origin — reads ORIGIN_URL; shared by the Worker and the offline deploy check. */

/**
 * The origin as a URL, or the coded error that keeps the gateway (and
 * `npm run deploy`) from going anywhere with it.
 *
 * @example
 * parseOrigin("https://api.internal/v1");  // URL
 * parseOrigin("");                          // "ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not set"
 */
export function parseOrigin(raw: string | undefined): URL | string {
  if (!raw) return "ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not set";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not an absolute URL: ${JSON.stringify(raw)}`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `ERR_SLUICE_ORIGIN_URL: ORIGIN_URL must be http or https, got ${url.protocol}`;
  }
  if (url.search || url.hash) {
    return "ERR_SLUICE_ORIGIN_URL: ORIGIN_URL must not carry a query or fragment";
  }
  return url;
}
