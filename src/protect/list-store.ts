/** @module protect/list-store — runtime list entries in the directory's documents: one small read to see a change, one to load, one atomic audited write per change. */
import { type Directory, DirectoryConflict } from "../tenants/directory.ts";
import type { DocumentWrite } from "../tenants/document-store.ts";
import type { AuditEntry } from "../tenants/types.ts";

/** One entry added through the admin API. */
export interface ListEntry {
  kind: "ip" | "tenant" | "country";
  /** Canonical: ranges as `parseCidr` writes them, countries upper-case. */
  value: string;
  reason: string;
  /** Who added it (the audit trail's actor). */
  actor: string;
  createdAt: string;
  /** ISO 8601; from then on the entry no longer matches. */
  expiresAt?: string;
}

/** Which entry: its kind and canonical value. */
export type EntryRef = Pick<ListEntry, "kind" | "value">;

/** Every runtime entry of the declared lists, as of `revision`. */
export interface ListsSnapshot {
  /** Changes with every write; `null` before the first one. */
  revision: string | null;
  entries: Record<string, ListEntry[]>;
}

/** What one change did. */
export interface ListChange {
  /** The list's runtime entries after the change (expired ones dropped). */
  entries: ListEntry[];
  added: number;
  removed: number;
  revision: string;
}

/**
 * Documents per list: entries are spread over them by hash, so no document
 * grows past a Durable Object row's limit (2 MB) at `MAX_RUNTIME_ENTRIES`.
 */
const CHUNKS = 16;
/** Runtime entries per list at most; larger lists belong in the policy. */
export const MAX_RUNTIME_ENTRIES = 10_000;
/** Tries of a change that lost a race with another admin's write. */
const ATTEMPTS = 3;
const REVISION = "lists:rev";

/**
 * Runtime entries of the policy's lists, over the directory's document store
 * (`<namespace>:list:<name>:<chunk>`, and `<namespace>:lists:rev`, rewritten by
 * every change so isolates can tell in one small read whether to load).
 *
 * @example
 * const store = new ListStore(directory, Object.keys(policy.lists));
 * const { revision, entries } = await store.load();
 */
export class ListStore {
  readonly #directory: Directory;
  readonly #names: readonly string[];

  constructor(directory: Directory, names: readonly string[]) {
    this.#directory = directory;
    this.#names = names;
  }

  /** The current revision: one store call. */
  async revision(): Promise<string | null> {
    const [rev] = await this.#directory.read([REVISION]);
    return rev ?? null;
  }

  /** Every declared list's entries, expired ones left out: one store call. */
  async load(nowMs: number): Promise<ListsSnapshot> {
    const keys = this.#names.flatMap((name) => chunkKeys(name));
    const [rev, ...docs] = await this.#directory.read([REVISION, ...keys]);
    const entries: Record<string, ListEntry[]> = {};
    this.#names.forEach((name, i) => {
      entries[name] = docs.slice(i * CHUNKS, (i + 1) * CHUNKS).flatMap((d) => live(d, nowMs));
    });
    return { revision: rev ?? null, entries };
  }

  /**
   * Adds (or replaces: same kind and value) and removes entries of one list,
   * with its audit entry, in one atomic write. A write that lost a race with
   * another is tried again on fresh data.
   *
   * @throws {RangeError} when the list would hold more than `MAX_RUNTIME_ENTRIES`.
   */
  async change(
    name: string,
    change: { add: readonly ListEntry[]; remove: readonly EntryRef[] },
    audit: AuditEntry,
    nowMs: number,
  ): Promise<ListChange> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#changeOnce(name, change, audit, nowMs);
      } catch (err) {
        if (!(err instanceof DirectoryConflict) || attempt >= ATTEMPTS) throw err;
      }
    }
  }

  async #changeOnce(
    name: string,
    change: { add: readonly ListEntry[]; remove: readonly EntryRef[] },
    audit: AuditEntry,
    nowMs: number,
  ): Promise<ListChange> {
    const keys = chunkKeys(name);
    const before = await this.#directory.read(keys);
    const chunks = before.map((d) => live(d, nowMs));
    let removed = 0;
    for (const ref of change.remove) {
      const chunk = chunks[chunkOf(ref)] as ListEntry[];
      const at = chunk.findIndex((e) => same(e, ref));
      if (at !== -1) {
        chunk.splice(at, 1);
        removed++;
      }
    }
    for (const entry of change.add) {
      const chunk = chunks[chunkOf(entry)] as ListEntry[];
      const at = chunk.findIndex((e) => same(e, entry));
      if (at === -1) chunk.push(entry);
      else chunk[at] = entry;
    }
    const total = chunks.reduce((n, c) => n + c.length, 0);
    if (total > MAX_RUNTIME_ENTRIES) {
      throw new RangeError(
        `list ${JSON.stringify(name)} would hold ${total} runtime entries, more than ${MAX_RUNTIME_ENTRIES}; put long lists in the policy`,
      );
    }
    const revision = crypto.randomUUID();
    const ops: Array<Extract<DocumentWrite, { op: "expect" | "set" }>> = [];
    chunks.forEach((chunk, i) => {
      // No delete in the document store: an emptied chunk is an empty list.
      const after = JSON.stringify(chunk);
      const was = before[i] ?? null;
      if ((was ?? "[]") === after) return;
      ops.push({ op: "expect", key: keys[i] as string, value: was });
      ops.push({ op: "set", key: keys[i] as string, value: after });
    });
    ops.push({ op: "set", key: REVISION, value: revision });
    await this.#directory.writeAudited(ops, audit);
    return { entries: chunks.flat(), added: change.add.length, removed, revision };
  }
}

function chunkKeys(name: string): string[] {
  return Array.from({ length: CHUNKS }, (_, i) => `list:${name}:${i}`);
}

/** FNV-1a of the entry's kind and value. */
function chunkOf(ref: EntryRef): number {
  const text = `${ref.kind}:${ref.value}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % CHUNKS;
}

function same(a: EntryRef, b: EntryRef): boolean {
  return a.kind === b.kind && a.value === b.value;
}

/** A chunk's entries that have not expired by `nowMs`; a damaged document reads as empty. */
function live(doc: string | null | undefined, nowMs: number): ListEntry[] {
  if (!doc) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(doc);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return (parsed as ListEntry[]).filter(
    (e) => e.expiresAt === undefined || Date.parse(e.expiresAt) > nowMs,
  );
}
