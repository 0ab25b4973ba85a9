/** @module tenants/resolver — API key → tenant on the hot path, cached per isolate for a bounded time. */
import { BoundedMap } from "../util/bounded-map.ts";
import type { Directory } from "./directory.ts";
import type { KeyRecord, Tenant } from "./types.ts";

/**
 * Cached resolutions per isolate at most, the oldest going first: valid keys
 * and refused ones are bounded apart, so a spray of random keys evicts only
 * other refusals, never a valid key (audit S5).
 */
const MAX_VALID = 10_000;
const MAX_REFUSED = 10_000;
/** A tenant id no tenant can have (ids are [a-z0-9_-]): read when the key is unknown. */
const NO_TENANT = "~";
/** While serving a stale answer, how often one key's load is retried. */
const STALE_RETRY_MS = 1000;

export type Resolution =
  | { ok: true; key: KeyRecord; tenant: Tenant; stale?: true }
  | { ok: false; reason: "unknown" | "revoked" | "expired" | "tenant-disabled" };

interface Entry {
  /** When the answer was read from the store. */
  loadedMs: number;
  untilMs: number;
  key?: KeyRecord;
  tenant?: Tenant;
}

/**
 * Resolves key hashes through the directory and remembers the answer (found
 * or not) for `ttlMs`, so a known key costs no store call in steady state.
 * A key revoked or a tenant disabled elsewhere is seen within `ttlMs`; in
 * this isolate at once (`forget`). Expiry is checked on every request.
 * When the store fails, an answer read no longer than `staleIfErrorMs` ago
 * stands in for it (stale-if-error, as RFC 5861 §4 has it for HTTP caches):
 * an outage does not lock out every known tenant, and never admits an unknown key.
 *
 * @example
 * const r = await resolver.resolve(identity.apiKeyHash, Date.now());
 * if (r.ok) identity.tenant = r.tenant.id;
 */
export class KeyResolver {
  readonly #dir: Directory;
  readonly #ttlMs: number;
  readonly #staleIfErrorMs: number;
  readonly #valid = new BoundedMap<string, Entry>(MAX_VALID);
  readonly #refused = new BoundedMap<string, Entry>(MAX_REFUSED);
  /** Bumped by `forget`, so a load that started before it is not cached after it. */
  #generation = 0;

  constructor(directory: Directory, options: { ttlMs: number; staleIfErrorMs?: number }) {
    this.#dir = directory;
    this.#ttlMs = options.ttlMs;
    this.#staleIfErrorMs = options.staleIfErrorMs ?? 0;
  }

  /** Is this key known valid here, with no store call needed? Refusals do not count. */
  isKnownValid(hash: string, nowMs: number): boolean {
    const entry = this.#valid.get(hash);
    return entry !== undefined && nowMs < entry.untilMs && judge(entry, nowMs).ok;
  }

  /**
   * Store errors propagate (as `StoreError`) unless a valid answer within
   * `staleIfErrorMs` stands in; the caller then refuses the request.
   */
  async resolve(hash: string, nowMs: number): Promise<Resolution> {
    let entry = this.#valid.get(hash) ?? this.#refused.get(hash);
    if (!entry || nowMs >= entry.untilMs) {
      const generation = this.#generation;
      try {
        const fresh = await this.#load(hash, nowMs);
        if (generation === this.#generation) this.#remember(hash, fresh);
        entry = fresh;
      } catch (err) {
        if (entry && nowMs - entry.loadedMs <= this.#staleIfErrorMs) {
          const last = judge(entry, nowMs);
          if (last.ok) {
            // Ask a struggling store again in a second, not on every request.
            entry.untilMs = nowMs + STALE_RETRY_MS;
            return { ...last, stale: true };
          }
        }
        throw err;
      }
    }
    return judge(entry, nowMs);
  }

  /** Drops cached answers for these key hashes and tenants (after an admin change here). */
  forget(match: { hash?: string; tenant?: string }): void {
    this.#generation++;
    for (const cache of [this.#valid, this.#refused]) {
      for (const [hash, entry] of cache) {
        if (hash === match.hash || (match.tenant && entry.key?.tenant === match.tenant)) {
          cache.delete(hash);
        }
      }
    }
  }

  /**
   * Two reads whatever the key: an unknown key's tenant read is of a tenant
   * that cannot exist, so unknown and revoked keys cost the same time and
   * timing does not tell which keys were ever issued (audit F12).
   */
  async #load(hash: string, nowMs: number): Promise<Entry> {
    const at = { loadedMs: nowMs, untilMs: nowMs + this.#ttlMs };
    const key = await this.#dir.findKey(hash);
    const tenant = await this.#dir.getTenant(key?.tenant ?? NO_TENANT);
    if (!key) return at;
    return tenant ? { ...at, key, tenant } : { ...at, key };
  }

  #remember(hash: string, entry: Entry): void {
    const valid = judge(entry, entry.loadedMs).ok;
    // With no TTL a valid answer is still kept, for stale-if-error only.
    if (this.#ttlMs <= 0 && (this.#staleIfErrorMs <= 0 || !valid)) return;
    (valid ? this.#valid : this.#refused).set(hash, entry);
    (valid ? this.#refused : this.#valid).delete(hash);
  }
}

function judge(entry: Entry, nowMs: number): Resolution {
  const { key, tenant } = entry;
  if (!key || !tenant) return { ok: false, reason: "unknown" };
  if (key.disabled) return { ok: false, reason: "revoked" };
  if (key.expiresAt !== undefined && Date.parse(key.expiresAt) <= nowMs) {
    return { ok: false, reason: "expired" };
  }
  if (tenant.disabled) return { ok: false, reason: "tenant-disabled" };
  return { ok: true, key, tenant };
}
