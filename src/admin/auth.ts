/** @module admin/auth — the admin API's bearer token, with a lockout for guessers and an audit line per wrong guess. */
import { createMiddleware } from "hono/factory";
import { timingSafeEqual } from "hono/utils/buffer";
import { ipKey } from "../identity/ip.ts";
import { DEFAULT_AUTH_FAILURES } from "../policy/tenants.ts";
import { keyAttemptsLocked, unauthorized } from "../respond/problem.ts";
import { type AdminEnv, auditEntry } from "./context.ts";

// RFC 6750 §2.1: `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1).
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/** Wrong admin tokens admitted per address before it is locked out: the wrong-key default. */
export const ADMIN_AUTH_FAILURES = DEFAULT_AUTH_FAILURES;

/** Least entropy an admin token's characters may carry by their frequencies (random hex-32 carries over 90). */
const MIN_TOKEN_BITS = 80;
/** Most of a token that may be runs like "abcd", "1234" or "aaaa" (random hex-32 stays under 0.55). */
const MAX_RUN_SHARE = 0.7;

/**
 * Why `token` is too easy to guess to guard the admin API, or undefined (audit
 * S6). Length alone let `"a".repeat(32)` through. No check proves a token
 * random; these refuse the common mistakes: repeating a shorter pattern,
 * mostly runs, or characters whose frequencies carry under 80 bits. Random
 * hex, base64 and UUIDs of at least 32 characters pass.
 *
 * @example
 * adminTokenWeakness("a".repeat(32)); // "repeats a shorter pattern"
 */
export function adminTokenWeakness(token: string, minLength: number): string | undefined {
  if (token.length < minLength) return `shorter than ${minLength} characters`;
  for (let unit = 1; unit <= token.length / 2; unit++) {
    if (
      token ===
      token
        .slice(0, unit)
        .repeat(Math.ceil(token.length / unit))
        .slice(0, token.length)
    ) {
      return "repeats a shorter pattern";
    }
  }
  let runs = 0;
  for (let i = 1; i < token.length; i++) {
    if (Math.abs(token.charCodeAt(i) - token.charCodeAt(i - 1)) <= 1) runs++;
  }
  if (runs / (token.length - 1) > MAX_RUN_SHARE) return 'mostly runs like "abcd" or "1234"';
  const counts = new Map<string, number>();
  for (const ch of token) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= n * Math.log2(n / token.length);
  if (bits < MIN_TOKEN_BITS) return `too few distinct characters (about ${Math.floor(bits)} bits)`;
  return undefined;
}

/**
 * Does the `Authorization` header carry the admin token? Compared in
 * constant time over SHA-256 digests (Hono's `timingSafeEqual`, as its
 * bearer-auth uses), so neither content nor length leaks. `equals` is
 * injectable so tests can see the comparison is the constant-time one.
 *
 * @example
 * if (!(await adminTokenMatches(c.req.header("authorization"), env.SLUICE_ADMIN_TOKEN))) throw unauthorized(…);
 */
export async function adminTokenMatches(
  authorization: string | undefined,
  token: string,
  equals: (a: string, b: string) => Promise<boolean> = timingSafeEqual,
): Promise<boolean> {
  const presented = BEARER.exec(authorization ?? "")?.[1];
  // Still compare on a missing token, so both paths cost the same.
  const ok = await equals(presented ?? "", token);
  return ok && presented !== undefined && token !== "";
}

/**
 * Admits requests with the admin token. Token guessing is slow and seen:
 * wrong tokens count per address in the limit store, and each one is logged
 * (not stored: a guesser must not be able to flood the audit trail). Once
 * locked out, an address is answered from memory: no store call, no log line.
 *
 * @throws {SluiceHttpError} 401 for a wrong token, 429 once the address is locked out.
 */
export const adminAuth = createMiddleware<AdminEnv>(async function adminAuth(c, next) {
  const { token, tokenGuard, policy, clock, log } = c.var.admin;
  if (await adminTokenMatches(c.req.header("authorization"), token)) {
    await next();
    c.header("cache-control", "no-store");
    return;
  }
  const entry = auditEntry(c, "auth.failed", "admin", { method: c.req.method, path: c.req.path });
  const nowMs = clock();
  const address = ipKey(entry.ip, policy.identity.ip.ipv6Subnet) ?? "";
  const locked = tokenGuard.lockedForMs(address, nowMs);
  if (locked > 0) throw keyAttemptsLocked(locked, "admin tokens");
  // Without the token the caller's own name for itself means nothing.
  log({ ...entry, actor: "unauthenticated" });
  const lockout = await tokenGuard.fail(address, nowMs);
  if (lockout > 0) throw keyAttemptsLocked(lockout, "admin tokens");
  throw unauthorized("A valid admin token is required.", "sluice-admin");
});
