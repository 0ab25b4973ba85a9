/** @module tenants/resolver — API key → tenant on the hot path, cached per isolate for a bounded time. */
import type { Directory } from "./directory.ts";
import type { KeyRecord, Tenant } from "./types.ts";

/** Cached resolutions per isolate at most; the oldest go first. */
const MAX_ENTRIES = 10_000;

export type Resolution =
  | { ok: true; key: KeyRecord; tenant: Tenant }
  | { ok: false; reason: "unknown" | "revoked" | "expired" | "tenant-disabled" };

interface Entry {
  untilMs: number;
  key?: KeyRecord;
  tenant?: Tenant;
}

/**
 * Resolves key hashes through the directory and remembers the answer (found
 * or not) for `ttlMs`, so a known key costs no store call in steady state.
 * A key revoked or a tenant disabled elsewhere is seen within `ttlMs`; in
 * this isolate at once (`forget`). Expiry is checked on every request.
 *
 * @example
 * const r = await resolver.resolve(identity.apiKeyHash, Date.now());
 * if (r.ok) identity.tenant = r.tenant.id;
 */
export class KeyResolver {
  readonly #dir: Directory;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, Entry>();

  constructor(directory: Directory, options: { ttlMs: number }) {
    this.#dir = directory;
    this.#ttlMs = options.ttlMs;
  }

  /** Is a live answer for this key cached (no store call needed)? */
  isCached(hash: string, nowMs: number): boolean {
    const entry = this.#cache.get(hash);
    return entry !== undefined && nowMs < entry.untilMs;
  }

  /** Store errors propagate (as `StoreError`); the caller applies the rule's `onStoreError`. */
  async resolve(hash: string, nowMs: number): Promise<Resolution> {
    let entry = this.#cache.get(hash);
    if (!entry || nowMs >= entry.untilMs) {
      entry = await this.#load(hash, nowMs);
      this.#remember(hash, entry);
    }
    return judge(entry, nowMs);
  }

  /** Drops cached answers for these key hashes and tenants (after an admin change here). */
  forget(match: { hash?: string; tenant?: string }): void {
    for (const [hash, entry] of this.#cache) {
      if (hash === match.hash || (match.tenant && entry.key?.tenant === match.tenant)) {
        this.#cache.delete(hash);
      }
    }
  }

  async #load(hash: string, nowMs: number): Promise<Entry> {
    const untilMs = nowMs + this.#ttlMs;
    const key = await this.#dir.findKey(hash);
    if (!key) return { untilMs };
    const tenant = await this.#dir.getTenant(key.tenant);
    return tenant ? { untilMs, key, tenant } : { untilMs, key };
  }

  #remember(hash: string, entry: Entry): void {
    if (this.#ttlMs <= 0) return;
    this.#cache.delete(hash);
    if (this.#cache.size >= MAX_ENTRIES) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    this.#cache.set(hash, entry);
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
