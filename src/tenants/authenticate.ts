/** @module tenants/authenticate — an API key hash and an address → the key's tenant, or why not. */
import { StoreError } from "../limiter/types.ts";
import type { AuthFailureGuard } from "./guard.ts";
import type { KeyResolver } from "./resolver.ts";
import type { Tenant } from "./types.ts";

/** What resolves issued keys on the hot path. */
export interface TenantServices {
  resolver: KeyResolver;
  guard: AuthFailureGuard;
}

/** The outcome of one key check; nothing is logged or thrown here. */
export type Authentication =
  | { ok: true; tenant: Tenant; stale: boolean }
  /** The address sent too many bad keys: refused until `retryAfterMs` passes. */
  | { ok: false; reason: "locked"; retryAfterMs: number; keyProblem?: string }
  /** Unknown, revoked or expired (which one is for the log only). */
  | { ok: false; reason: "invalid"; keyProblem: string }
  | { ok: false; reason: "tenant-disabled"; keyProblem: "tenant-disabled" }
  /** The directory could not be read; the key is neither valid nor invalid. */
  | { ok: false; reason: "unresolved"; storeError: StoreError };

/**
 * Resolves the key to its tenant. A key that cannot have been issued
 * (`malformed`) is refused at once, with no store call and nothing counted.
 * An address locked out for bad keys is refused without a store call unless
 * its key is already known valid here; each bad key counts once against the
 * address (and may lock it out).
 *
 * @example
 * const auth = await authenticate(services, identity.apiKeyHash, identity.ipKey, Date.now());
 * if (auth.ok) identity.tenant = auth.tenant.id;
 */
export async function authenticate(
  services: TenantServices,
  keyHash: string,
  ipKey: string,
  nowMs: number,
  malformed = false,
): Promise<Authentication> {
  if (malformed) return { ok: false, reason: "invalid", keyProblem: "malformed" };
  const { resolver, guard } = services;
  const locked = guard.lockedForMs(ipKey, nowMs);
  if (locked > 0 && !resolver.isKnownValid(keyHash, nowMs)) {
    return { ok: false, reason: "locked", retryAfterMs: locked };
  }
  let found: Awaited<ReturnType<KeyResolver["resolve"]>>;
  try {
    found = await resolver.resolve(keyHash, nowMs);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    return { ok: false, reason: "unresolved", storeError: err };
  }
  if (found.ok) return { ok: true, tenant: found.tenant, stale: found.stale === true };
  if (found.reason === "tenant-disabled") {
    return { ok: false, reason: "tenant-disabled", keyProblem: "tenant-disabled" };
  }
  // Already locked out: refuse without counting again (no store call).
  if (locked > 0)
    return { ok: false, reason: "locked", retryAfterMs: locked, keyProblem: found.reason };
  const lockout = await guard.fail(ipKey, nowMs);
  if (lockout > 0) {
    return { ok: false, reason: "locked", retryAfterMs: lockout, keyProblem: found.reason };
  }
  return { ok: false, reason: "invalid", keyProblem: found.reason };
}
