/** @module admin/auth — the admin API's bearer token, with a lockout for guessers and an audit line per wrong guess. */
import { createMiddleware } from "hono/factory";
import { timingSafeEqual } from "hono/utils/buffer";
import { ipKey } from "../identity/ip.ts";
import { DEFAULT_AUTH_FAILURES } from "../policy/tenants.ts";
import { keyAttemptsLocked, unauthorized } from "../respond/problem.ts";
import { ADMIN_AUTH_RULE } from "../tenants/guard.ts";
import { type AdminEnv, auditEntry } from "./context.ts";

// RFC 6750 §2.1: `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1).
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

/** Wrong admin tokens admitted per address before it is locked out: the wrong-key default. */
export const ADMIN_AUTH_FAILURES = DEFAULT_AUTH_FAILURES;

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
  if (locked > 0) throw keyAttemptsLocked(locked, "admin tokens", ADMIN_AUTH_RULE);
  // Without the token the caller's own name for itself means nothing.
  log({ ...entry, actor: "unauthenticated" });
  const lockout = await tokenGuard.fail(address, nowMs);
  if (lockout > 0) throw keyAttemptsLocked(lockout, "admin tokens", ADMIN_AUTH_RULE);
  throw unauthorized("A valid admin token is required.", "sluice-admin");
});
