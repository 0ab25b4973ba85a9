/** @module tenants/redis-docs — the directory's documents in Redis (Upstash REST). */
import type { Redis } from "@upstash/redis/cloudflare";
import { withBudget } from "../limiter/budget.ts";
import type { DocStore, DocWrite } from "./docs.ts";

/**
 * Documents as Redis strings, sets and lists. A batch is one MULTI/EXEC
 * (Upstash's `/multi-exec`), so a key and its index entry land together.
 *
 * The client must not deserialize JSON itself (`automaticDeserialization: false`):
 * documents are read back as the exact strings written.
 *
 * @example
 * const docs = new RedisDocStore(createUpstashClient(url, token, 250, { raw: true }), { timeoutMs: 250 });
 */
export class RedisDocStore implements DocStore {
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

  async write(ops: readonly DocWrite[]): Promise<void> {
    if (ops.length === 0) return;
    const tx = this.#redis.multi();
    for (const op of ops) {
      if (op.op === "set") tx.set(op.key, op.value);
      else if (op.op === "add") tx.sadd(op.set, op.member);
      else {
        tx.lpush(op.list, op.value);
        tx.ltrim(op.list, 0, op.max - 1);
      }
    }
    await withBudget(tx.exec(), this.#timeoutMs);
  }
}
