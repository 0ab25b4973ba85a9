/** @module stores/durable-object/metrics-object — `SluiceMetrics`, the Durable Object that adds up every isolate's metric deltas, and the store that calls it. */
import { DurableObject } from "cloudflare:workers";
import { type MetricsStore, SUBJECT_WINDOW_MS } from "../../observe/aggregate.ts";
import type { Aggregate } from "../../observe/exposition.ts";
import type { Deltas } from "../../observe/metrics.ts";
import { statementChunks } from "./sql.ts";

/**
 * One object per deployment holds the aggregate in SQLite: `add` rows are
 * summed, `set` rows replaced, `subject` rows summed within an hour-long
 * window that starts afresh when it lapses. Each flush is one RPC and a few
 * statements in one implicit transaction.
 *
 * @example
 * const stub = env.SLUICE_METRICS.getByName("sluice:metrics");
 * await stub.add({ add: [['sluice_requests|total|rule="api"', 3]], set: [], subjects: [] }, Date.now());
 */
export class SluiceMetrics extends DurableObject implements MetricsObjectRpc {
  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS metric (kind TEXT NOT NULL, field TEXT NOT NULL, num INTEGER NOT NULL DEFAULT 0, text TEXT, PRIMARY KEY (kind, field))",
    );
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS alert_claim (episode TEXT PRIMARY KEY, until INTEGER NOT NULL)",
    );
  }

  /**
   * All of a flush or none: a failed one is sent again whole (see
   * `observe/aggregate.ts`). A failure is answered, not thrown.
   */
  async add(deltas: PlainDeltas, nowMs: number): Promise<{ failed?: string }> {
    try {
      this.ctx.storage.transactionSync(() => this.#add(deltas, nowMs));
      return {};
    } catch (err) {
      return { failed: err instanceof Error ? err.message : String(err) };
    }
  }

  #add(deltas: PlainDeltas, nowMs: number): void {
    const sql = this.ctx.storage.sql;
    const kv = this.ctx.storage.kv;
    const since = kv.get<number>("subjects-since");
    if (since === undefined || nowMs - since >= SUBJECT_WINDOW_MS) {
      // A new window: the last hour's subjects are forgotten, as Redis's EXPIRE does.
      if (since !== undefined) sql.exec("DELETE FROM metric WHERE kind = 'subject'");
      kv.put("subjects-since", nowMs);
    }
    this.#sum("add", deltas.add);
    this.#sum("subject", deltas.subjects);
    for (const chunk of statementChunks(deltas.set, 2)) {
      sql.exec(
        `INSERT INTO metric (kind, field, text) VALUES ${chunk.map(() => "('set', ?, ?)").join(",")} ON CONFLICT (kind, field) DO UPDATE SET text = excluded.text`,
        ...chunk.flat(),
      );
    }
  }

  /**
   * The object's single thread makes the check and the claim one step.
   * Claims past their hold are dropped as new ones come (claims are rare:
   * one per episode and isolate), so the table holds only live ones.
   */
  async claimAlert(episode: string, holdMs: number, nowMs: number): Promise<boolean> {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM alert_claim WHERE until <= ?", nowMs);
    const held = sql.exec("SELECT 1 FROM alert_claim WHERE episode = ?", episode).toArray();
    if (held.length > 0) return false;
    sql.exec("INSERT INTO alert_claim (episode, until) VALUES (?, ?)", episode, nowMs + holdMs);
    return true;
  }

  async read(nowMs: number): Promise<Aggregate> {
    const since = this.ctx.storage.kv.get<number>("subjects-since") ?? nowMs;
    const fresh = nowMs - since < SUBJECT_WINDOW_MS;
    const out: Aggregate = { add: {}, set: {}, subjects: {} };
    const rows = this.ctx.storage.sql.exec<{
      kind: string;
      field: string;
      num: number;
      text: string | null;
    }>("SELECT kind, field, num, text FROM metric");
    for (const row of rows) {
      if (row.kind === "add") out.add[row.field] = row.num;
      else if (row.kind === "set" && row.text !== null) out.set[row.field] = row.text;
      else if (row.kind === "subject" && fresh) out.subjects[row.field] = row.num;
    }
    return out;
  }

  #sum(kind: "add" | "subject", entries: Array<[string, number]>): void {
    for (const chunk of statementChunks(entries, 2)) {
      this.ctx.storage.sql.exec(
        `INSERT INTO metric (kind, field, num) VALUES ${chunk.map(() => `('${kind}', ?, ?)`).join(",")} ON CONFLICT (kind, field) DO UPDATE SET num = num + excluded.num`,
        ...chunk.flat(),
      );
    }
  }
}

/** The Durable Object side: what `SluiceMetrics` answers over RPC. */
export interface MetricsObjectRpc {
  add(deltas: PlainDeltas, nowMs: number): Promise<{ failed?: string }>;
  read(nowMs: number): Promise<Aggregate>;
  claimAlert(episode: string, holdMs: number, nowMs: number): Promise<boolean>;
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

  async add(deltas: Deltas, nowMs: number): Promise<void> {
    const plain: PlainDeltas = {
      add: [...deltas.add],
      set: [...deltas.set],
      subjects: [...deltas.subjects],
    };
    const { failed } = await this.#stub().add(plain, nowMs);
    if (failed !== undefined)
      throw new Error(`the metrics object kept nothing of a flush: ${failed}`);
  }

  read(nowMs: number): Promise<Aggregate> {
    return this.#stub().read(nowMs);
  }

  async claimAlert(episode: string, holdMs: number, nowMs: number): Promise<boolean> {
    return this.#stub().claimAlert(episode, holdMs, nowMs);
  }
}
