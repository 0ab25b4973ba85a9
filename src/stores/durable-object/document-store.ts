/** @module stores/durable-object/document-store — the directory's documents in a Durable Object (the embedded default). */
import { DurableObject } from "cloudflare:workers";
import type { DocumentStore, DocumentWrite } from "../../tenants/document-store.ts";
import { budgetedCall, type ObjectCall } from "./stub.ts";

/** One object holds the whole directory: admin writes are rare, reads are cached per isolate. */
const OBJECT_NAME = "directory";

/** Documents, sets and capped lists in the object's SQLite storage. */
export class SluiceDirectory extends DurableObject {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS docs (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    sql.exec(
      "CREATE TABLE IF NOT EXISTS sets (name TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (name, member))",
    );
    sql.exec(
      "CREATE TABLE IF NOT EXISTS lists (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, value TEXT NOT NULL)",
    );
  }

  get(keys: readonly string[]): (string | null)[] {
    return keys.map(
      (key) =>
        this.ctx.storage.sql
          .exec<{ value: string }>("SELECT value FROM docs WHERE key = ?", key)
          .toArray()[0]?.value ?? null,
    );
  }

  members(set: string): string[] {
    return this.ctx.storage.sql
      .exec<{ member: string }>("SELECT member FROM sets WHERE name = ? ORDER BY member", set)
      .toArray()
      .map((r) => r.member);
  }

  recent(list: string, count: number): string[] {
    return this.ctx.storage.sql
      .exec<{ value: string }>(
        "SELECT value FROM lists WHERE name = ? ORDER BY seq DESC LIMIT ?",
        list,
        count,
      )
      .toArray()
      .map((r) => r.value);
  }

  write(ops: readonly DocumentWrite[]): boolean {
    const sql = this.ctx.storage.sql;
    // No await between check and write: the object runs one call at a time.
    for (const op of ops) {
      if (op.op === "expect" && this.get([op.key])[0] !== op.value) return false;
    }
    this.ctx.storage.transactionSync(() => {
      for (const op of ops) {
        if (op.op === "expect") continue;
        if (op.op === "set") {
          sql.exec(
            "INSERT INTO docs (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            op.key,
            op.value,
          );
        } else if (op.op === "add") {
          sql.exec("INSERT OR IGNORE INTO sets (name, member) VALUES (?, ?)", op.set, op.member);
        } else {
          sql.exec("INSERT INTO lists (name, value) VALUES (?, ?)", op.list, op.value);
          sql.exec(
            "DELETE FROM lists WHERE name = ? AND seq NOT IN (SELECT seq FROM lists WHERE name = ? ORDER BY seq DESC LIMIT ?)",
            op.list,
            op.list,
            op.max,
          );
        }
      }
    });
    return true;
  }
}

/**
 * `DocumentStore` over the `SluiceDirectory` namespace: one RPC per call.
 *
 * @example
 * const docs = new DurableObjectDocumentStore(env.SLUICE_DIRECTORY, { timeoutMs: 250 });
 */
export class DurableObjectDocumentStore implements DocumentStore {
  readonly kind = "durable-object";
  readonly #call: ObjectCall<SluiceDirectory>;

  constructor(ns: DurableObjectNamespace<SluiceDirectory>, options: { timeoutMs: number }) {
    this.#call = budgetedCall(ns, options.timeoutMs);
  }

  get(keys: readonly string[]): Promise<(string | null)[]> {
    return this.#call(OBJECT_NAME, (s) => s.get(keys));
  }

  members(set: string): Promise<string[]> {
    return this.#call(OBJECT_NAME, (s) => s.members(set));
  }

  recent(list: string, count: number): Promise<string[]> {
    return this.#call(OBJECT_NAME, (s) => s.recent(list, count));
  }

  write(ops: readonly DocumentWrite[]): Promise<boolean> {
    return this.#call(OBJECT_NAME, (s) => s.write(ops));
  }
}
