/** @module observe/aggregate — what a metrics store does (the backends keep their own: stores/redis, stores/durable-object, stores/memory), and when an isolate flushes. */
import type { AlertClaims } from "./alerts.ts";
import type { Aggregate } from "./exposition.ts";
import type { Deltas, Metrics } from "./metrics.ts";

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
export interface MetricsStore extends AlertClaims {
  add(deltas: Deltas, nowMs: number): Promise<void>;
  read(nowMs: number): Promise<Aggregate>;
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
