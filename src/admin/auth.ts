/** @module admin/auth — the admin API's bearer token check. */
import { timingSafeEqual } from "hono/utils/buffer";

// RFC 6750 §2.1: `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1).
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

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
