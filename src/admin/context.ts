/** @module admin/context — what every admin route reads from `c.var.admin`, and the audit-then-write step they share. */
import type { Context } from "hono";
import { clientIp } from "../identity/ip.ts";
import { type LimitStore, StoreError } from "../limiter/types.ts";
import type { Aggregate } from "../observe/exposition.ts";
import type { HealthProbe } from "../observe/health.ts";
import type { AuditOutcome } from "../observe/index.ts";
import type { Policy } from "../policy/types.ts";
import type { ListStore } from "../protect/list-store.ts";
import type { Screen } from "../protect/screen.ts";
import { badRequest, missing, type SluiceHttpError, unavailable } from "../respond/problem.ts";
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
  /** The isolate's store probe, shared with `/__sluice/health`. */
  health: HealthProbe;
  clock: () => number;
  /** Where audit entries are logged (besides being stored), with how the change ended if not applied. */
  log: (entry: AuditEntry, outcome?: AuditOutcome) => void;
  /** Every isolate's metrics added up; absent when metrics are off. */
  metrics?: { aggregate(): Promise<Aggregate> } | undefined;
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

/**
 * Applies `write`, which stores `entry` in the same atomic batch, logs the
 * entry, then runs `after` (dropping cached answers). When the store call
 * fails the entry is logged all the same, with its outcome, `after` still
 * runs if the change may have applied, and the 503 says whether it may have.
 *
 * @throws {SluiceHttpError} 503 with `mayHaveApplied` when the store did not answer.
 */
export async function commit(
  c: Context<AdminEnv>,
  entry: AuditEntry,
  write: () => Promise<void>,
  after?: () => void,
): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    const uncertain = mayHaveApplied(err);
    c.var.admin.log(entry, uncertain ? "unknown" : "failed");
    if (uncertain) after?.();
    throw writeFailed(err, uncertain, entry.target);
  }
  c.var.admin.log(entry);
  after?.();
}

/**
 * For a change outside the directory (a reset of counters and lockouts): its
 * audit entry is stored and logged before the change is made, so the trail
 * never misses it; a change that then fails is logged again with its outcome.
 *
 * @throws {SluiceHttpError} 503 with `mayHaveApplied` when a store did not answer.
 */
export async function auditThen(
  c: Context<AdminEnv>,
  entry: AuditEntry,
  change: () => Promise<void>,
): Promise<void> {
  const { directory, log } = c.var.admin;
  try {
    await directory.recordAudit(entry);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    log(entry, "failed");
    throw writeFailed(err, false, entry.target);
  }
  log(entry);
  try {
    await change();
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    log(entry, "unknown");
    throw writeFailed(err, true, entry.target);
  }
}

/** A call that was never sent (store skipped or overloaded) changed nothing; any other may have. */
function mayHaveApplied(err: StoreError): boolean {
  return err.reason === "timeout" || err.reason === "error";
}

function writeFailed(err: StoreError, uncertain: boolean, target: string): SluiceHttpError {
  return unavailable(`The store did not answer: ${err.reason}.`, {
    mayHaveApplied: uncertain,
    target,
  });
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
