/** @module stores/memory/metrics-store — metric deltas added up in this isolate alone. */
import { type MetricsStore, SUBJECT_WINDOW_MS } from "../../observe/aggregate.ts";
import type { Aggregate } from "../../observe/exposition.ts";
import type { Deltas } from "../../observe/metrics.ts";
import { BoundedMap } from "../../util/bounded-map.ts";

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
  /** Alert episodes claimed, until when. */
  readonly #claims = new BoundedMap<string, number>(10_000);

  async claimAlert(episode: string, holdMs: number, nowMs: number): Promise<boolean> {
    const until = this.#claims.get(episode);
    if (until !== undefined && until > nowMs) return false;
    this.#claims.set(episode, nowMs + holdMs);
    return true;
  }

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
