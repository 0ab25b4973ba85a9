/** @module dashboard/session — the dashboard's sign-in cookie: an expiry and its HMAC under the admin token, never the token itself. */
import { timingSafeEqual } from "hono/utils/buffer";
import { toHex } from "../util/encoding.ts";

export const SESSION_COOKIE = "sluice_dashboard";
/** Where the cookie is sent: the dashboard's paths only. */
export const SESSION_PATH = "/__sluice/dashboard";
/** A session lasts this long; then the token is asked for again. */
export const SESSION_MS = 12 * 3_600_000;

/**
 * The cookie's value for a session ending at `expMs`: `<exp>.<hex HMAC-SHA256
 * of "sluice-dashboard.<exp>" under the admin token>`. Rotating the token
 * ends every session.
 *
 * @example
 * const value = await sessionValue(token, Date.now() + SESSION_MS);
 */
export async function sessionValue(token: string, expMs: number): Promise<string> {
  return `${expMs}.${await mac(token, expMs)}`;
}

/**
 * Is `value` a session the token signed that has not expired? Compared in
 * constant time, as the admin token is (admin/auth.ts).
 *
 * @example
 * if (!(await sessionValid(token, getCookie(c, SESSION_COOKIE), Date.now()))) return signIn(c);
 */
export async function sessionValid(
  token: string,
  value: string | undefined,
  nowMs: number,
): Promise<boolean> {
  const [exp, given] = (value ?? "").split(".", 2);
  const expMs = Number(exp);
  const expected = Number.isSafeInteger(expMs) ? await mac(token, expMs) : "";
  const same = await timingSafeEqual(given ?? "", expected);
  return same && expected !== "" && expMs > nowMs;
}

async function mac(token: string, expMs: number): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(token),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = await crypto.subtle.sign(
    "HMAC",
    key,
    new TextEncoder().encode(`sluice-dashboard.${expMs}`),
  );
  return toHex(new Uint8Array(sig));
}

/**
 * The session cookie's value from a `Cookie` header (RFC 6265 §5.4: `name=value`
 * pairs separated by "; "). Only this one cookie is read, so a few lines do
 * instead of a cookie library in the bundle.
 *
 * @example
 * sessionCookie("a=1; sluice_dashboard=123.ab"); // "123.ab"
 */
export function sessionCookie(header: string | undefined): string | undefined {
  for (const pair of (header ?? "").split(";")) {
    const at = pair.indexOf("=");
    if (at > 0 && pair.slice(0, at).trim() === SESSION_COOKIE) return pair.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * The `Set-Cookie` value for a session (RFC 6265 §4.1): HttpOnly (no script
 * reads it), Secure (never over plain HTTP; browsers treat localhost as
 * secure), SameSite=Strict (no other site's page sends it, RFC 6265bis
 * §5.4.7, which also stops cross-site form posts). An empty value with
 * Max-Age=0 ends the session.
 *
 * @example
 * setSessionCookie("123.ab", 43200); // "sluice_dashboard=123.ab; Max-Age=43200; Path=/__sluice/dashboard; HttpOnly; Secure; SameSite=Strict"
 */
export function setSessionCookie(value: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${value}; Max-Age=${maxAgeSeconds}; Path=${SESSION_PATH}; HttpOnly; Secure; SameSite=Strict`;
}
