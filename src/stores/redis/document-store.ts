/** @module stores/redis/document-store — the directory's documents in Redis (Upstash REST). */
import type { Redis } from "@upstash/redis/cloudflare";
import type { DocumentStore, DocumentWrite } from "../../tenants/document-store.ts";
import { withBudget } from "../budget.ts";
import { runScript, SCRIPTS } from "./scripts.ts";

/**
 * Documents as Redis strings, sets and lists. A batch is one script call,
 * so a key, its index entries and its audit entry land together or not at all.
 *
 * The client must not deserialize JSON itself (`automaticDeserialization: false`):
 * documents are read back as the exact strings written.
 *
 * @example
 * const docs = new RedisDocumentStore(createUpstashClient(url, token, 250, { raw: true }), { timeoutMs: 250 });
 */
export class RedisDocumentStore implements DocumentStore {
  readonly kind = "redis";
  readonly #redis: Redis;
  readonly #timeoutMs: number;

  constructor(redis: Redis, options: { timeoutMs: number }) {
    this.#redis = redis;
    this.#timeoutMs = options.timeoutMs;
  }

  async get(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    const values = await withBudget(this.#redis.mget<(string | null)[]>(...keys), this.#timeoutMs);
    return values.map((v) => (v === null || v === undefined ? null : String(v)));
  }

  async members(set: string): Promise<string[]> {
    const members = await withBudget(this.#redis.smembers(set), this.#timeoutMs);
    return members.map(String).sort();
  }

  async recent(list: string, count: number): Promise<string[]> {
    const items = await withBudget(this.#redis.lrange(list, 0, count - 1), this.#timeoutMs);
    return items.map(String);
  }

  async write(ops: readonly DocumentWrite[]): Promise<boolean> {
    if (ops.length === 0) return true;
    const keys = ops.map((op) => (op.op === "add" ? op.set : op.op === "push" ? op.list : op.key));
    const applied = await withBudget(
      runScript(this.#redis, SCRIPTS.write, [...new Set(keys)], [JSON.stringify(ops)]),
      this.#timeoutMs,
    );
    return Number(applied) === 1;
  }
}
