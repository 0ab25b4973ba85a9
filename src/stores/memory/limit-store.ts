/** @module stores/memory/limit-store — limits in this isolate's memory, on the reference models. */

import { bansAmong } from "../../limiter/ban.ts";
import {
  decideOnTable,
  peekOnTable,
  refundOnTable,
  releaseOnTable,
  type StateRow,
} from "../../limiter/table.ts";
import type { BanEntry, DecideRequest, Decision, LimitStore } from "../../limiter/types.ts";
import { BoundedMap } from "../../util/bounded-map.ts";

/** Keys held at most; the oldest go first, so a flood of subjects costs bounded memory. */
const DEFAULT_MAX_KEYS = 100_000;

/**
 * A `LimitStore` in one isolate's (or one process's) memory. Exact and atomic
 * within the isolate — JavaScript runs one decision at a time and a decision
 * never awaits between read and write — but not shared: each isolate counts
 * on its own. It is the middleware's store off Workers (Node, Bun, Deno) and
 * the gateway's fallback while the shared store is down.
 *
 * Evicting a key forgets its state, which only ever admits more: the cap
 * (100,000 keys by default) is set far above a healthy isolate's working set.
 *
 * @example
 * app.use(rateLimit({ policy, store: new MemoryStore() }));
 */
export class MemoryStore implements LimitStore {
  readonly kind = "memory";
  readonly #rows: BoundedMap<string, StateRow>;
  readonly #table;

  constructor(options: { maxKeys?: number } = {}) {
    this.#rows = new BoundedMap(options.maxKeys ?? DEFAULT_MAX_KEYS);
    const rows = this.#rows;
    this.#table = {
      read: (key: string) => rows.get(key),
      write: (key: string, row: StateRow) => void rows.set(key, row),
      remove: (key: string) => void rows.delete(key),
    };
  }

  /** Keys currently held (for tests and metrics). */
  get size(): number {
    return this.#rows.size;
  }

  async decide(req: DecideRequest): Promise<Decision> {
    return decideOnTable(this.#table, req);
  }

  async peek(req: DecideRequest): Promise<Decision> {
    return peekOnTable(this.#table, req);
  }

  async refund(req: DecideRequest): Promise<void> {
    refundOnTable(this.#table, req);
  }

  async release(lease: { key: string; id: string; nowMs: number }): Promise<void> {
    releaseOnTable(this.#table, lease);
  }

  async reset(_rule: string, keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#rows.delete(key);
  }

  async ping(): Promise<void> {}

  async listBans(prefix: string, _rules: readonly string[], nowMs: number): Promise<BanEntry[]> {
    const rows = [...this.#rows].map(([key, row]) => [key, row.value] as const);
    return bansAmong(rows, prefix, nowMs);
  }
}
