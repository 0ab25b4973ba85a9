/** @module util/header-name — a header name as any server might read it, and the fields a proxy owns, for dropping every spelling of one. */

/**
 * A header name as servers may read it: case-insensitive (RFC 9110 §5.1), and
 * CGI-style servers (WSGI, Rack, PHP) map "-" and "_" alike (RFC 3875
 * §4.1.18), so any run of characters other than letters and digits counts as
 * one "-".
 *
 * @example
 * headerKey("X_Sluice_Tenant"); // "x-sluice-tenant"
 */
export function headerKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1; HTTP2-Settings, RFC 7540 §3.2.1) never
 * travel past a proxy.
 */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
];

/**
 * Client-address and routing fields an origin framework may trust (RFC 7239
 * `Forwarded`, and the de-facto ones): a client's copy never reaches the
 * origin; Sluice sets X-Forwarded-For/-Proto/-Host itself. Every `x-forwarded*`
 * name is dropped too.
 */
const MANAGED = [
  "forwarded",
  "x-real-ip",
  "true-client-ip",
  "x-client-ip",
  "client-ip",
  "x-cluster-client-ip",
  "x-original-url",
  "x-rewrite-url",
];

/** Hop-by-hop fields as `headerKey` spells them. */
export const HOP_BY_HOP_KEYS: ReadonlySet<string> = new Set(HOP_BY_HOP.map(headerKey));
const MANAGED_KEYS = new Set(MANAGED.map(headerKey));

/**
 * Whether `key` (a `headerKey`) is a client-address or routing field Sluice
 * owns: a client's copy never reaches the origin.
 *
 * @example
 * isManagedHeader(headerKey("X_Real_IP")); // true
 */
export function isManagedHeader(key: string): boolean {
  return MANAGED_KEYS.has(key) || key.startsWith("x-forwarded");
}

/**
 * Why a header cannot carry something Sluice writes for the origin, or
 * undefined when it can: the fields a proxy owns (hop-by-hop, client
 * address, routing, `host`) would be dropped or overwritten, and
 * credentials would be mistaken for the client's own.
 *
 * @example
 * reservedHeaderReason("X-Forwarded-For"); // "Sluice writes X-Forwarded-* itself"
 */
export function reservedHeaderReason(name: string): string | undefined {
  const key = headerKey(name);
  if (key === "host") return "the origin's Host is Sluice's to set";
  if (HOP_BY_HOP_KEYS.has(key)) return "hop-by-hop fields never reach the origin (RFC 9110 §7.6.1)";
  if (key.startsWith("x-forwarded")) return "Sluice writes X-Forwarded-* itself";
  if (MANAGED_KEYS.has(key) || key.startsWith("cf-")) {
    return "it carries the client's address or route, which Sluice owns";
  }
  if (key === "authorization" || key === "cookie") return "it carries the client's credentials";
  if (key === "traceparent" || key === "tracestate") {
    return "Sluice propagates the trace context in it (W3C Trace Context)";
  }
  return undefined;
}
