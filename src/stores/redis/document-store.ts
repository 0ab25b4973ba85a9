/** @module stores/redis/document-store — the directory's documents in Redis (Upstash REST). */
import type { Redis } from "@upstash/redis/cloudflare";
import { withBudget } from "../budget.ts";
import type { DocumentStore, DocumentWrite } from "../../tenants/document-store.ts";

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
      this.#redis.eval(WRITE_SCRIPT, [...new Set(keys)], [JSON.stringify(ops)]),
      this.#timeoutMs,
    );
    return Number(applied) === 1;
  }
}

/**
 * One batch, atomically: every `expect` is checked first, then the writes are
 * applied; a script (not MULTI) so the check and the writes cannot interleave
 * with another client. Returns 1 when applied, 0 when an expectation failed.
 */
const WRITE_SCRIPT = `
local ops = cjson.decode(ARGV[1])
for _, op in ipairs(ops) do
  if op.op == "expect" then
    local current = redis.call("GET", op.key)
    if op.value == cjson.null then
      if current then return 0 end
    elseif current ~= op.value then
      return 0
    end
  end
end
for _, op in ipairs(ops) do
  if op.op == "set" then
    redis.call("SET", op.key, op.value)
  elseif op.op == "add" then
    redis.call("SADD", op.set, op.member)
  elseif op.op == "push" then
    redis.call("LPUSH", op.list, op.value)
    redis.call("LTRIM", op.list, 0, op.max - 1)
  end
end
return 1
`;
