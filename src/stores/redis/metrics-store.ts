/** @module stores/redis/metrics-store — isolates' metric deltas added up in three Redis hashes beside the limits. */
import type { Redis } from "@upstash/redis/cloudflare";
import { type MetricsStore, SUBJECT_WINDOW_MS } from "../../observe/aggregate.ts";
import type { Aggregate } from "../../observe/exposition.ts";
import type { Deltas } from "../../observe/metrics.ts";

/**
 * The aggregate in three Redis hashes beside the limits: counters (HINCRBY),
 * gauges (HSET, last writer wins) and recent subjects (HINCRBY, expiring an
 * hour after the window opened). One pipeline request per flush or read.
 *
 * @example
 * const metrics = new RedisMetricsStore(createUpstashClient(url, token, 1000, { raw: true }), "sluice");
 */
export class RedisMetricsStore implements MetricsStore {
  readonly #redis: Redis;
  readonly #keys: { add: string; set: string; subjects: string };
  readonly #alerts: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    // `~` never appears in a rule name, so these never meet a limit's key.
    const base = `${prefix}:~metrics`;
    this.#keys = { add: `${base}:add`, set: `${base}:set`, subjects: `${base}:subjects` };
    this.#alerts = `${prefix}:~alert:`;
  }

  /** `SET NX PX`: the first isolate's claim stands until the hold ends (Redis expires it). */
  async claimAlert(episode: string, holdMs: number): Promise<boolean> {
    const reply = await this.#redis.set(`${this.#alerts}${episode}`, 1, {
      nx: true,
      px: Math.max(1, Math.ceil(holdMs)),
    });
    return reply === "OK";
  }

  async add(deltas: Deltas): Promise<void> {
    const p = this.#redis.pipeline();
    for (const [field, n] of deltas.add) p.hincrby(this.#keys.add, field, n);
    if (deltas.set.size > 0) p.hset(this.#keys.set, Object.fromEntries(deltas.set));
    if (deltas.subjects.size > 0) {
      for (const [field, n] of deltas.subjects) p.hincrby(this.#keys.subjects, field, n);
      // NX: the window's clock starts with its first write (Redis ≥ 7.0).
      p.expire(this.#keys.subjects, SUBJECT_WINDOW_MS / 1000, "NX");
    }
    if (p.length() > 0) await p.exec();
  }

  async read(): Promise<Aggregate> {
    const [add, set, subjects] = await this.#redis
      .pipeline()
      .hgetall(this.#keys.add)
      .hgetall(this.#keys.set)
      .hgetall(this.#keys.subjects)
      .exec<
        [
          Record<string, unknown> | null,
          Record<string, unknown> | null,
          Record<string, unknown> | null,
        ]
      >();
    return { add: numbers(add), set: strings(set), subjects: numbers(subjects) };
  }
}

/** HGETALL's answer: the raw client gives Redis's flat `[field, value, …]` list. */
type HashReply = Record<string, unknown> | unknown[] | null;

function entries(raw: HashReply): Array<[string, unknown]> {
  if (!Array.isArray(raw)) return Object.entries(raw ?? {});
  const out: Array<[string, unknown]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([String(raw[i]), raw[i + 1]]);
  return out;
}

function numbers(raw: HashReply): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of entries(raw)) {
    const n = Number(v);
    if (Number.isFinite(n)) out[k] = n;
  }
  return out;
}

function strings(raw: HashReply): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of entries(raw)) out[k] = String(v);
  return out;
}
