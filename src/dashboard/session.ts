/** @module dashboard/session — the dashboard's sign-in cookie: an expiry and its HMAC under the admin token, never the token itself. */
import { timingSafeEqual } from "hono/utils/buffer";
import { toHex } from "../util/encoding.ts";

export const SESSION_COOKIE = "sluice_dashboard";
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
