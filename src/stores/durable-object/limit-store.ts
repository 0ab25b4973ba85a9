/** @module stores/durable-object/limit-store — the embedded store: limits in a Durable Object, no external service. */
import { DurableObject } from "cloudflare:workers";
import { withBudget } from "../budget.ts";
import { evaluate, refundWrites, type Write } from "../../limiter/model.ts";
import type { DecideRequest, Decision, LimitStore } from "../../limiter/types.ts";

/** How often the object deletes lapsed state. */
const SWEEP_EVERY_MS = 60_000;

/**
 * Holds limit state for the rules routed to it, in its SQLite storage, and
 * runs the reference model on it. A decision runs with no await between
 * read and write, so the object's single thread makes it atomic.
 *
 * One object per rule: a rule's keys all share its name, so every key a
 * decision touches lives in the same object.
 */
export class SluiceStore extends DurableObject {
  #latestNowMs = 0;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    // `seen`: the latest caller time for the key. Lapse is judged on that
    // timeline, as the model does, so a caller whose clock is behind never
    // writes an expiry that is already past for one whose clock is ahead.
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS limit_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL, seen INTEGER NOT NULL)",
    );
  }

  decide(req: DecideRequest): Decision {
    const { states, seen } = this.#read(req);
    const { decision, writes } = evaluate(req.checks, states, req.nowMs, req.countRejected);
    this.#write(writes, seen, req.nowMs);
    return decision;
  }

  peek(req: DecideRequest): Decision {
    const { states } = this.#read(req);
    return evaluate(req.checks, states, req.nowMs, false, true).decision;
  }

  refund(req: DecideRequest): void {
    const { states, seen } = this.#read(req);
    this.#write(refundWrites(req.checks, states, req.nowMs), seen, req.nowMs);
  }

  reset(keys: readonly string[]): void {
    for (const key of keys) this.ctx.storage.sql.exec("DELETE FROM limit_state WHERE key = ?", key);
  }

  /** Current state of each check's key, and the per-key time (never behind what it has seen). */
  #read(req: DecideRequest): { states: (string | null)[]; seen: Map<string, number> } {
    const sql = this.ctx.storage.sql;
    const seen = new Map<string, number>();
    const states = req.checks.map((c) => {
      const row = sql
        .exec<{ value: string; expires_at: number; seen: number }>(
          "SELECT value, expires_at, seen FROM limit_state WHERE key = ?",
          c.key,
        )
        .toArray()[0];
      const keyNow = Math.max(req.nowMs, row?.seen ?? 0);
      seen.set(c.key, keyNow);
      // Lapsed state means "idle", exactly as an expired Redis key does.
      return row && row.expires_at > keyNow ? row.value : null;
    });
    return { states, seen };
  }

  #write(writes: readonly Write[], seen: ReadonlyMap<string, number>, nowMs: number): void {
    for (const w of writes) {
      const keyNow = seen.get(w.key) ?? nowMs;
      this.ctx.storage.sql.exec(
        "INSERT INTO limit_state (key, value, expires_at, seen) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, seen = excluded.seen",
        w.key,
        w.value,
        keyNow + w.ttlMs,
        keyNow,
      );
    }
    this.#latestNowMs = Math.max(this.#latestNowMs, nowMs);
    if (writes.length > 0) void this.#scheduleSweep();
  }

  ping(): string {
    return "PONG";
  }

  /** Number of stored keys that have not lapsed by `nowMs` (for tests and health). */
  liveKeys(nowMs: number): number {
    const row = this.ctx.storage.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM limit_state WHERE expires_at > ?", nowMs)
      .one();
    return row.n;
  }

  override async alarm(): Promise<void> {
    // Callers' clocks, not this machine's, define lapse (tests inject time).
    this.ctx.storage.sql.exec("DELETE FROM limit_state WHERE expires_at <= ?", this.#latestNowMs);
    const left = this.ctx.storage.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM limit_state")
      .one();
    if (left.n > 0) await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  async #scheduleSweep(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
    }
  }
}

/**
 * `LimitStore` over the `SluiceStore` namespace: one RPC per decision.
 *
 * @example
 * const store = new DurableObjectStore(env.SLUICE_STORE, { timeoutMs: 250 });
 */
export class DurableObjectStore implements LimitStore {
  readonly kind = "durable-object";
  readonly #ns: DurableObjectNamespace<SluiceStore>;
  readonly #timeoutMs: number;

  constructor(ns: DurableObjectNamespace<SluiceStore>, options: { timeoutMs: number }) {
    this.#ns = ns;
    this.#timeoutMs = options.timeoutMs;
  }

  async decide(req: DecideRequest): Promise<Decision> {
    return withBudget(this.#stub(req.rule).decide(req) as Promise<Decision>, this.#timeoutMs);
  }

  async peek(req: DecideRequest): Promise<Decision> {
    return withBudget(this.#stub(req.rule).peek(req) as Promise<Decision>, this.#timeoutMs);
  }

  async refund(req: DecideRequest): Promise<void> {
    await withBudget(this.#stub(req.rule).refund(req) as Promise<void>, this.#timeoutMs);
  }

  async reset(rule: string, keys: readonly string[]): Promise<void> {
    await withBudget(this.#stub(rule).reset(keys) as Promise<void>, this.#timeoutMs);
  }

  /** A rule's keys all live in the object named after the rule. */
  #stub(rule: string): DurableObjectStub<SluiceStore> {
    return this.#ns.get(this.#ns.idFromName(rule));
  }

  async ping(): Promise<void> {
    const stub = this.#ns.get(this.#ns.idFromName("__ping"));
    await withBudget(stub.ping() as Promise<string>, this.#timeoutMs);
  }
}
