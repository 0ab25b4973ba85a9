/** @module tenants/directory — tenants, keys and the audit trail over a DocumentStore. */
import type { DocumentStore, DocumentWrite } from "./document-store.ts";
import type { AuditEntry, KeyRecord, Tenant } from "./types.ts";

/** Audit entries kept; older ones are dropped (they are also in the logs). */
const AUDIT_MAX = 10_000;

/**
 * Where tenants and keys live. Layout, under `<namespace>:`:
 * `tenant:<id>` (JSON), `tenants` (set of ids), `key:<sha256>` (JSON, no
 * secret), `keyid:<id>` (→ sha256), `tenant-keys:<id>` (set of sha256),
 * `audit` (list, newest first). Every change is written together with its
 * audit entry in one atomic batch.
 *
 * @example
 * const dir = new Directory(docs, "sluice");
 * const key = await dir.findKey(identity.apiKeyHash);
 */
export class Directory {
  readonly #docs: DocumentStore;
  readonly #ns: string;

  constructor(docs: DocumentStore, namespace: string) {
    this.#docs = docs;
    this.#ns = namespace;
  }

  get kind(): DocumentStore["kind"] {
    return this.#docs.kind;
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const [raw] = await this.#docs.get([this.#k("tenant", id)]);
    return parse<Tenant>(raw);
  }

  async listTenants(): Promise<Tenant[]> {
    const ids = await this.#docs.members(this.#k("tenants"));
    const raws = await this.#docs.get(ids.map((id) => this.#k("tenant", id)));
    return raws.map((r) => parse<Tenant>(r)).filter((t): t is Tenant => t !== undefined);
  }

  /**
   * Writes a tenant and its audit entry, provided the stored tenant is still
   * `previous` (undefined: it must not exist yet). Throws `DirectoryConflict`
   * when another write got there first.
   */
  async saveTenant(tenant: Tenant, audit: AuditEntry, previous?: Tenant): Promise<void> {
    const key = this.#k("tenant", tenant.id);
    await this.#write([
      { op: "expect", key, value: previous ? JSON.stringify(previous) : null },
      { op: "set", key, value: JSON.stringify(tenant) },
      { op: "add", set: this.#k("tenants"), member: tenant.id },
      this.#audit(audit),
    ]);
  }

  /** The key with this SHA-256, as issued (possibly revoked or expired). */
  async findKey(hash: string): Promise<KeyRecord | undefined> {
    const [raw] = await this.#docs.get([this.#k("key", hash)]);
    return parse<KeyRecord>(raw);
  }

  /** The key named `id` and its hash. */
  async getKeyById(id: string): Promise<{ hash: string; key: KeyRecord } | undefined> {
    const [hash] = await this.#docs.get([this.#k("keyid", id)]);
    if (!hash) return undefined;
    const key = await this.findKey(hash);
    return key ? { hash, key } : undefined;
  }

  /** Keys of one tenant, or of all tenants. */
  async listKeys(tenant?: string): Promise<KeyRecord[]> {
    const tenants = tenant ? [tenant] : await this.#docs.members(this.#k("tenants"));
    const keys: KeyRecord[] = [];
    for (const t of tenants) {
      const hashes = await this.#docs.members(this.#k("tenant-keys", t));
      const raws = await this.#docs.get(hashes.map((h) => this.#k("key", h)));
      for (const raw of raws) {
        const key = parse<KeyRecord>(raw);
        if (key) keys.push(key);
      }
    }
    return keys.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Writes a key record, its indexes and its audit entry; `previous` as for `saveTenant`. */
  async saveKey(
    hash: string,
    key: KeyRecord,
    audit: AuditEntry,
    previous?: KeyRecord,
  ): Promise<void> {
    const at = this.#k("key", hash);
    await this.#write([
      { op: "expect", key: at, value: previous ? JSON.stringify(previous) : null },
      { op: "set", key: at, value: JSON.stringify(key) },
      { op: "set", key: this.#k("keyid", key.id), value: hash },
      { op: "add", set: this.#k("tenant-keys", key.tenant), member: hash },
      this.#audit(audit),
    ]);
  }

  /**
   * Documents of other runtime data (lists) under the namespace: `read(["lists:rev"])`
   * reads `<namespace>:lists:rev`. One store call.
   */
  async read(keys: readonly string[]): Promise<(string | null)[]> {
    return this.#docs.get(keys.map((k) => this.#k(k)));
  }

  /**
   * Applies `ops` (keys under the namespace, as for `read`) with the audit
   * entry, atomically; throws `DirectoryConflict` when an `expect` does not hold.
   */
  async writeAudited(
    ops: ReadonlyArray<Extract<DocumentWrite, { op: "expect" | "set" }>>,
    audit: AuditEntry,
  ): Promise<void> {
    await this.#write([...ops.map((op) => ({ ...op, key: this.#k(op.key) })), this.#audit(audit)]);
  }

  /** Stores an audit entry for an action that changed nothing in the directory (e.g. a reset). */
  async recordAudit(entry: AuditEntry): Promise<void> {
    await this.#write([this.#audit(entry)]);
  }

  /** Newest first. */
  async audit(count: number): Promise<AuditEntry[]> {
    const raws = await this.#docs.recent(this.#k("audit"), count);
    return raws.map((r) => parse<AuditEntry>(r)).filter((e): e is AuditEntry => e !== undefined);
  }

  async #write(ops: readonly DocumentWrite[]): Promise<void> {
    if (!(await this.#docs.write(ops))) throw new DirectoryConflict();
  }

  #audit(entry: AuditEntry): DocumentWrite {
    return { op: "push", list: this.#k("audit"), value: JSON.stringify(entry), max: AUDIT_MAX };
  }

  #k(...parts: string[]): string {
    return [this.#ns, ...parts].join(":");
  }
}

/** A write lost a race: what it was based on changed meanwhile. */
export class DirectoryConflict extends Error {
  override readonly name = "DirectoryConflict";
  constructor() {
    super("changed by another request meanwhile");
  }
}

function parse<T>(raw: string | null | undefined): T | undefined {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}
