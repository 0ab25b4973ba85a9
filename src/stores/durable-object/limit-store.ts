/** @module stores/durable-object/limit-store — the embedded store: limits in a Durable Object, no external service. */
import { DurableObject } from "cloudflare:workers";
import {
  decideOnTable,
  peekOnTable,
  refundOnTable,
  type StateRow,
  type StateTable,
} from "../../limiter/table.ts";
import type { DecideRequest, Decision, LimitStore } from "../../limiter/types.ts";
import { budgetedCall, type ObjectCall } from "./stub.ts";

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
    // `seen`: the latest caller time for the key (see limiter/table.ts).
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS limit_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL, seen INTEGER NOT NULL)",
    );
  }

  /** The SQLite table as the engine's state table. */
  readonly #table: StateTable = {
    read: (key) =>
      this.ctx.storage.sql
        .exec<StateRow>(
          "SELECT value, expires_at AS expiresAt, seen FROM limit_state WHERE key = ?",
          key,
        )
        .toArray()[0],
    write: (key, row) => {
      this.ctx.storage.sql.exec(
        "INSERT INTO limit_state (key, value, expires_at, seen) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, seen = excluded.seen",
        key,
        row.value,
        row.expiresAt,
        row.seen,
      );
      this.#wrote = true;
    },
  };
  #wrote = false;

  decide(req: DecideRequest): Decision {
    const decision = decideOnTable(this.#table, req);
    this.#afterWrite(req.nowMs);
    return decision;
  }

  peek(req: DecideRequest): Decision {
    return peekOnTable(this.#table, req);
  }

  refund(req: DecideRequest): void {
    refundOnTable(this.#table, req);
    this.#afterWrite(req.nowMs);
  }

  reset(keys: readonly string[]): void {
    for (const key of keys) this.ctx.storage.sql.exec("DELETE FROM limit_state WHERE key = ?", key);
  }

  #afterWrite(nowMs: number): void {
    this.#latestNowMs = Math.max(this.#latestNowMs, nowMs);
    if (this.#wrote) void this.#scheduleSweep();
    this.#wrote = false;
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
  readonly #call: ObjectCall<SluiceStore>;

  constructor(ns: DurableObjectNamespace<SluiceStore>, options: { timeoutMs: number }) {
    this.#call = budgetedCall(ns, options.timeoutMs);
  }

  // A rule's keys all live in the object named after the rule.
  decide(req: DecideRequest): Promise<Decision> {
    return this.#call(req.rule, (s) => s.decide(req));
  }

  peek(req: DecideRequest): Promise<Decision> {
    return this.#call(req.rule, (s) => s.peek(req));
  }

  refund(req: DecideRequest): Promise<void> {
    return this.#call(req.rule, (s) => s.refund(req));
  }

  reset(rule: string, keys: readonly string[]): Promise<void> {
    return this.#call(rule, (s) => s.reset(keys));
  }

  async ping(): Promise<void> {
    await this.#call("__ping", (s) => s.ping());
  }
}
