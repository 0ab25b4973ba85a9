/** @module tenants/directory — tenants, keys and the audit trail over a DocumentStore. */
import { StoreError } from "../limiter/types.ts";
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
 * A reply of the wrong shape (a faulty proxy, another JSON service at the
 * store's URL, a record not written by Sluice) is a `StoreError("error")`, as
 * a failed call is: the store-failure path, never a 500 or a bogus record.
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
    const [raw] = await this.#get([this.#k("tenant", id)]);
    return parse(raw, isTenant);
  }

  async listTenants(): Promise<Tenant[]> {
    const ids = await this.#members(this.#k("tenants"));
    const raws = await this.#get(ids.map((id) => this.#k("tenant", id)));
    return raws.map((r) => parse(r, isTenant)).filter((t): t is Tenant => t !== undefined);
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
    const [raw] = await this.#get([this.#k("key", hash)]);
    return parse(raw, isKeyRecord);
  }

  /** The key named `id` and its hash. */
  async getKeyById(id: string): Promise<{ hash: string; key: KeyRecord } | undefined> {
    const [hash] = await this.#get([this.#k("keyid", id)]);
    if (!hash) return undefined;
    if (!SHA256_HEX.test(hash)) throw unexpected(hash);
    const key = await this.findKey(hash);
    return key ? { hash, key } : undefined;
  }

  /** Keys of one tenant, or of all tenants. */
  async listKeys(tenant?: string): Promise<KeyRecord[]> {
    const tenants = tenant ? [tenant] : await this.#members(this.#k("tenants"));
    const keys: KeyRecord[] = [];
    for (const t of tenants) {
      const hashes = await this.#members(this.#k("tenant-keys", t));
      const raws = await this.#get(hashes.map((h) => this.#k("key", h)));
      for (const raw of raws) {
        const key = parse(raw, isKeyRecord);
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
    const raws = await reply(() => this.#docs.recent(this.#k("audit"), count), isStrings);
    return raws.map((r) => parse(r, isAuditEntry)).filter((e): e is AuditEntry => e !== undefined);
  }

  #get(keys: string[]): Promise<(string | null)[]> {
    const valid = (v: unknown): v is (string | null)[] =>
      Array.isArray(v) && v.length === keys.length && v.every((x) => x === null || isString(x));
    return reply(() => this.#docs.get(keys), valid);
  }

  #members(set: string): Promise<string[]> {
    return reply(() => this.#docs.members(set), isStrings);
  }

  async #write(ops: readonly DocumentWrite[]): Promise<void> {
    const applied = await reply(
      () => this.#docs.write(ops),
      (v): v is boolean => typeof v === "boolean",
    );
    if (!applied) throw new DirectoryConflict();
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

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * One store call whose reply must be of the expected shape. Anything else,
 * a throw inside the store's own handling of a bad reply included, is a
 * store failure.
 */
async function reply<T>(call: () => Promise<unknown>, valid: (v: unknown) => v is T): Promise<T> {
  let value: unknown;
  try {
    value = await call();
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError("unexpected directory reply", "error", { cause: err });
  }
  if (!valid(value)) throw unexpected(value);
  return value;
}

function unexpected(value: unknown): StoreError {
  // The shape only: a reply may hold records of other tenants.
  const shape = Array.isArray(value) ? `array(${value.length})` : typeof value;
  return new StoreError(`unexpected directory reply: ${shape}`, "error");
}

/** A stored record, or undefined when absent; a record of the wrong shape is a store failure. */
function parse<T>(raw: string | null | undefined, valid: (v: unknown) => v is T): T | undefined {
  if (raw === null || raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw unexpected(raw);
  }
  if (!valid(value)) throw unexpected(value);
  return value;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const fields = (v: Record<string, unknown>, names: readonly string[]) =>
  names.every((n) => isString(v[n]));

function isTenant(v: unknown): v is Tenant {
  return (
    isObject(v) &&
    fields(v, ["id", "plan", "createdAt"]) &&
    typeof v.disabled === "boolean" &&
    Array.isArray(v.overrides) &&
    v.overrides.every((o) => isObject(o) && fields(o, ["limit", "rate"]))
  );
}

function isKeyRecord(v: unknown): v is KeyRecord {
  return (
    isObject(v) &&
    fields(v, ["id", "tenant", "prefix", "createdAt"]) &&
    typeof v.disabled === "boolean" &&
    (v.expiresAt === undefined || isString(v.expiresAt))
  );
}

function isAuditEntry(v: unknown): v is AuditEntry {
  return isObject(v) && fields(v, ["at", "actor", "ip", "action", "target"]) && isObject(v.details);
}
