/** @module observe/analytics — every decision (sampled) as a Workers Analytics Engine data point, for SQL over weeks of traffic. */
import type { Context } from "hono";
import type { Background, RequestListener } from "./observer.ts";
import type { RequestObservation } from "./request.ts";

/**
 * The data point's columns, in order; README "Observability" has example
 * SQL. `double6` is the point's weight (1 / sample rate): sum it, times
 * `_sample_interval` (Analytics Engine's own sampling), to count requests.
 */
export const ANALYTICS_COLUMNS = {
  index1: "rule",
  blob1: "outcome",
  blob2: "rule",
  blob3: "tenant",
  blob4: "keyId",
  blob5: "ipKey",
  blob6: "method",
  blob7: "path",
  blob8: "policyHash",
  blob9: "traceId",
  blob10: "denying limit ids, comma-separated",
  double1: "storeMs",
  double2: "originMs",
  double3: "retryAfterMs",
  double4: "least remaining over the limits",
  double5: "response status",
  double6: "weight (1 / SLUICE_ANALYTICS_SAMPLE_RATE)",
} as const;

/**
 * Writes one data point per decided request, a `rate` share of them
 * (`writeDataPoint` queues the point and returns at once; no I/O waits on it).
 *
 * @example
 * const analytics = new AnalyticsWriter(env.SLUICE_ANALYTICS, 0.1);
 */
export class AnalyticsWriter implements RequestListener {
  readonly #dataset: AnalyticsEngineDataset;
  readonly #rate: number;

  constructor(dataset: AnalyticsEngineDataset, rate: number) {
    this.#dataset = dataset;
    this.#rate = rate;
  }

  finished(
    obs: RequestObservation,
    _c: Context,
    info: { status: number; endedMs: number },
    _background: Background,
  ): void {
    const e = obs.event;
    if (!e || (this.#rate < 1 && Math.random() >= this.#rate)) return;
    const remaining = e.limits.map((l) => l.remaining);
    this.#dataset.writeDataPoint({
      indexes: [e.rule],
      blobs: [
        e.outcome,
        e.rule,
        e.tenant ?? "",
        e.keyId ?? "",
        e.ipKey,
        e.method,
        e.path.slice(0, 256),
        e.policyHash,
        obs.trace.traceId,
        e.limits
          .filter((l) => !l.allowed)
          .map((l) => l.id)
          .join(","),
      ],
      doubles: [
        e.storeMs,
        obs.originMs ?? 0,
        e.retryAfterMs,
        remaining.length > 0 ? Math.min(...remaining) : -1,
        info.status,
        1 / this.#rate,
      ],
    });
  }
}

/**
 * `SLUICE_ANALYTICS_SAMPLE_RATE`: a share from 0 (exclusive) to 1; 1 when
 * unset or not such a number.
 *
 * @example
 * sampleRate("0.25"); // 0.25
 */
export function sampleRate(text: string | undefined): number {
  const n = Number(text);
  return text !== undefined && text.trim() !== "" && n > 0 && n <= 1 ? n : 1;
}
