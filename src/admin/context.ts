/** @module admin/context — what every admin route reads from `c.var.admin`, and the audit-then-write step they share. */
import type { Context } from "hono";
import { clientIp } from "../identity/ip.ts";
import type { LimitStore } from "../limiter/types.ts";
import type { Policy } from "../policy/types.ts";
import type { ListStore } from "../protect/list-store.ts";
import type { Screen } from "../protect/screen.ts";
import { badRequest, missing } from "../respond/problem.ts";
import type { Directory } from "../tenants/directory.ts";
import type { AuthFailureGuard } from "../tenants/guard.ts";
import type { KeyResolver } from "../tenants/resolver.ts";
import type { AuditEntry, Tenant } from "../tenants/types.ts";
import type { Json } from "./input.ts";

/** Everything the admin API works on, built once per isolate by the gateway's runtime. */
export interface AdminDeps {
  token: string;
  policy: Policy;
  directory: Directory;
  /** Runtime list entries, and this isolate's screen, which sees a change at once. */
  lists: { store: ListStore; screen: Screen };
  /** Dropped entries make changes visible in this isolate at once. */
  resolver: KeyResolver | undefined;
  /** The hot path's failed-key guard: resetting an address lifts its lockout here at once. */
  keyGuard: AuthFailureGuard | undefined;
  /** Wrong admin tokens per address. */
  tokenGuard: AuthFailureGuard;
  store: LimitStore;
  clock: () => number;
  /** Where audit entries are logged (besides being stored). */
  log: (entry: AuditEntry) => void;
}

/** The admin routes' Hono environment: `c.var.admin` is set by the gateway before they run. */
export type AdminEnv = { Variables: { admin: AdminDeps } };

const ACTOR = /^[\x21-\x7e][\x20-\x7e]{0,63}$/;

/**
 * An audit entry for this request: who (the `Sluice-Actor` header, else
 * "admin"), from where, what and on what.
 *
 * @example
 * const entry = auditEntry(c, "key.revoke", `key:${id}`, { tenant });
 */
export function auditEntry(
  c: Context<AdminEnv>,
  action: string,
  target: string,
  details: Json,
): AuditEntry {
  const { policy, clock } = c.var.admin;
  const actor = c.req.header("sluice-actor")?.trim() ?? "";
  return {
    at: new Date(clock()).toISOString(),
    actor: ACTOR.test(actor) ? actor : "admin",
    ip: clientIp(c.req.raw.headers, policy.identity.ip) ?? "",
    action,
    target,
    details,
  };
}

/** Applies `write` (which stores `entry` with it), then logs the entry. */
export async function commit(
  c: Context<AdminEnv>,
  entry: AuditEntry,
  write: () => Promise<void>,
): Promise<void> {
  await write();
  c.var.admin.log(entry);
}

/**
 * The request's JSON body.
 *
 * @throws {SluiceHttpError} 400 when it is not JSON.
 */
export async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw badRequest("", "expected a JSON body");
  }
}

/**
 * The tenant, or a 404.
 *
 * @throws {SluiceHttpError} 404 for an unknown tenant.
 */
export async function tenantOr404(c: Context<AdminEnv>, id: string): Promise<Tenant> {
  const tenant = await c.var.admin.directory.getTenant(id);
  if (!tenant) throw missing(`Tenant ${JSON.stringify(id)}`);
  return tenant;
}
