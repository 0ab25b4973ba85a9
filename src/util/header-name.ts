/** @module util/header-name — a header name as any server might read it, for dropping every spelling of one. */

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
