/** @module observe/aggregate — where isolates add up their metric deltas: a few Redis hashes, or one Durable Object; and when an isolate flushes. */
import type { Redis } from "@upstash/redis/cloudflare";
import type { Aggregate } from "./exposition.ts";
import type { Deltas, Metrics } from "./metrics.ts";
import type { SluiceMetrics } from "./metrics-object.ts";

/** Recent limited subjects are forgotten this long after their window opened. */
export const SUBJECT_WINDOW_MS = 3_600_000;

/**
 * Adds deltas up across isolates and reads the sum.
 *
 * Contract: `add` is one store call, applied whole or not at all as far as
 * the caller can tell (on failure the caller puts the deltas back and tries
 * again later, so a call that failed after applying may count twice: counters
 * can over-count after store errors, never lose a flushed delta silently).
 * Neither call is on a request's path to its answer.
 */
export interface MetricsStore {
  add(deltas: Deltas, nowMs: number): Promise<void>;
  read(nowMs: number): Promise<Aggregate>;
}

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

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    // `~` never appears in a rule name, so these never meet a limit's key.
    const base = `${prefix}:~metrics`;
    this.#keys = { add: `${base}:add`, set: `${base}:set`, subjects: `${base}:subjects` };
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

/**
 * The aggregate in this isolate's memory: for the middleware off the
 * gateway, or a gateway without a metrics binding. Counts one isolate only.
 *
 * @example
 * const metrics = new MemoryMetricsStore();
 */
export class MemoryMetricsStore implements MetricsStore {
  readonly #agg: Aggregate = { add: {}, set: {}, subjects: {} };
  #since: number | undefined;

  async add(deltas: Deltas, nowMs: number): Promise<void> {
    if (this.#since === undefined || nowMs - this.#since >= SUBJECT_WINDOW_MS) {
      this.#agg.subjects = {};
      this.#since = nowMs;
    }
    for (const [k, n] of deltas.add) this.#agg.add[k] = (this.#agg.add[k] ?? 0) + n;
    for (const [k, v] of deltas.set) this.#agg.set[k] = v;
    for (const [k, n] of deltas.subjects) this.#agg.subjects[k] = (this.#agg.subjects[k] ?? 0) + n;
  }

  async read(): Promise<Aggregate> {
    return structuredClone(this.#agg);
  }
}

/** The Durable Object side: what `SluiceMetrics` answers over RPC. */
export interface MetricsObjectRpc {
  add(deltas: PlainDeltas, nowMs: number): Promise<void>;
  read(nowMs: number): Promise<Aggregate>;
}

/** Deltas as plain arrays, for RPC and storage. */
export interface PlainDeltas {
  add: Array<[string, number]>;
  set: Array<[string, string]>;
  subjects: Array<[string, number]>;
}

/**
 * The aggregate in one `SluiceMetrics` Durable Object (`SLUICE_METRICS`).
 *
 * @example
 * const metrics = new DurableObjectMetricsStore(env.SLUICE_METRICS, "sluice");
 */
export class DurableObjectMetricsStore implements MetricsStore {
  readonly #ns: DurableObjectNamespace<SluiceMetrics>;
  readonly #name: string;

  constructor(ns: DurableObjectNamespace<SluiceMetrics>, prefix: string) {
    this.#ns = ns;
    this.#name = `${prefix}:metrics`;
  }

  #stub(): MetricsObjectRpc {
    // A fresh stub per call: a stub belongs to the request that made it.
    return this.#ns.getByName(this.#name) as unknown as MetricsObjectRpc;
  }

  add(deltas: Deltas, nowMs: number): Promise<void> {
    const plain: PlainDeltas = {
      add: [...deltas.add],
      set: [...deltas.set],
      subjects: [...deltas.subjects],
    };
    return this.#stub().add(plain, nowMs);
  }

  read(nowMs: number): Promise<Aggregate> {
    return this.#stub().read(nowMs);
  }
}

/**
 * When an isolate sends its deltas: at most once per `everyMs`, from
 * whichever request ends first after that, in its `waitUntil`; never two at
 * once. A failed flush puts its deltas back (bounded by the registry's cap).
 *
 * @example
 * const flusher = new Flusher(metrics, store, 5000);
 * flusher.maybeFlush(Date.now(), (p) => ctx.waitUntil(p));
 */
export class Flusher {
  readonly #metrics: Metrics;
  readonly #store: MetricsStore;
  readonly #everyMs: number;
  #last: number | undefined;
  #inFlight: Promise<void> | undefined;

  constructor(metrics: Metrics, store: MetricsStore, everyMs: number) {
    this.#metrics = metrics;
    this.#store = store;
    this.#everyMs = everyMs;
  }

  /** Starts a flush in the background when one is due; the first is due `everyMs` after the isolate's first request. */
  maybeFlush(nowMs: number, background: (work: Promise<unknown>) => void): void {
    this.#last ??= nowMs;
    if (this.#inFlight || nowMs - this.#last < this.#everyMs || this.#metrics.empty) return;
    background(this.flush(nowMs));
  }

  /**
   * Sends everything pending now (the metrics route calls it before reading).
   * While another request's flush is in flight this resolves at once: a
   * request must not wait on another request's I/O (workerd cancels it).
   */
  flush(nowMs: number): Promise<void> {
    if (this.#inFlight) return Promise.resolve();
    this.#last = nowMs;
    if (this.#metrics.empty) return Promise.resolve();
    const deltas = this.#metrics.take();
    this.#inFlight = this.#store
      .add(deltas, nowMs)
      .catch(() => this.#metrics.restore(deltas))
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
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
