/** @module observe/health — the store's health, probed at most once a second per isolate however often it is asked. */
import type { LimitStore } from "../limiter/types.ts";

/** What the last probe found. */
export interface StoreHealth {
  kind: LimitStore["kind"];
  reachable: boolean;
  latencyMs: number;
  /** When the probe ran (the runtime's clock, ms). */
  checkedAt: number;
  /** The store's own words, for the admin view only: they may name hosts or quote credentials. */
  error?: string;
}

/** Shortest time between two probes of one isolate. */
export const PROBE_EVERY_MS = 1000;

/**
 * Probes the store on demand, but at most once per `everyMs`: callers in
 * between get the last answer, and callers during a probe share it. So an
 * unauthenticated health check costs the store at most one command per
 * second per isolate (audit F7).
 *
 * @example
 * const health = new HealthProbe(store, Date.now);
 * const { reachable } = await health.check();
 */
export class HealthProbe {
  readonly #store: LimitStore;
  readonly #clock: () => number;
  readonly #everyMs: number;
  #last: StoreHealth | undefined;
  #running: Promise<StoreHealth> | undefined;

  constructor(store: LimitStore, clock: () => number, everyMs = PROBE_EVERY_MS) {
    this.#store = store;
    this.#clock = clock;
    this.#everyMs = everyMs;
  }

  check(): Promise<StoreHealth> {
    const last = this.#last;
    if (last && this.#clock() - last.checkedAt < this.#everyMs) return Promise.resolve(last);
    this.#running ??= this.#probe().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #probe(): Promise<StoreHealth> {
    const checkedAt = this.#clock();
    const started = Date.now();
    let error: string | undefined;
    try {
      await this.#store.ping();
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    this.#last = {
      kind: this.#store.kind,
      reachable: error === undefined,
      latencyMs: Date.now() - started,
      checkedAt,
      ...(error !== undefined ? { error } : {}),
    };
    return this.#last;
  }
}
