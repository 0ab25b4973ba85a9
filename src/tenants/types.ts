/** @module tenants/types — tenants, their keys and overrides, and the audit trail, as stored. */

/** A temporary change of one plan rate for one tenant. */
export interface Override {
  /** The plan rate it replaces, by id (its period: `"1s"`, `"1d"`). */
  limit: string;
  /** One rate, like `"200000/day"` or `"100/s burst 200"`. */
  rate: string;
  reason: string;
  /** ISO 8601; from then on the override no longer applies. */
  expiresAt?: string;
  createdAt: string;
}

export interface Tenant {
  id: string;
  name?: string;
  plan: string;
  disabled: boolean;
  createdAt: string;
  overrides: Override[];
}

/** An issued API key. The secret itself is never stored: only its SHA-256 (the store key). */
export interface KeyRecord {
  /** First 16 hex digits of the key's SHA-256: names it in the admin API. */
  id: string;
  tenant: string;
  /** `keyPrefix` and the next 4 characters of the key, to recognise it in listings. */
  prefix: string;
  name?: string;
  createdAt: string;
  expiresAt?: string;
  disabled: boolean;
  revokedAt?: string;
}

export interface AuditEntry {
  at: string;
  actor: string;
  ip: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}
