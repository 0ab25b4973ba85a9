/** @module middleware/rate-limit/adaptive — what this isolate saw of the origin for an adaptive rule, sent with its next decision; the factor and pause heard back. */
import { EMPTY_REPORT, FULL_PPM, type HealthReport } from "../../limiter/adaptive.ts";
import { storeKey } from "../../limiter/store-key.ts";
import type { AdaptiveSpec } from "../../limiter/types.ts";
import type { Rule } from "../../policy/types.ts";

/** The controller's subject: one per rule, whoever asks. */
const SUBJECT = "-";

/**
 * One adaptive rule's view from this isolate: a tally of the origin's
 * answers not yet reported, and the factor and pause the store last stated.
 * The tally is handed over with a decision and put back if the store never
 * got it, so no observation is lost to a failed call.
 */
export class OriginHealth {
  #tally: HealthReport = { ...EMPTY_REPORT };
  factorPpm = FULL_PPM;
  pauseUntilMs = 0;
  readonly #spec: Omit<AdaptiveSpec, "report">;

  constructor(prefix: string, rule: Rule & { adaptive: NonNullable<Rule["adaptive"]> }) {
    this.#spec = { key: storeKey(prefix, rule.name, "~adaptive", SUBJECT), config: rule.adaptive };
  }

  /** The controller with the tally so far, which starts again from nothing. */
  take(): AdaptiveSpec {
    const report = this.#tally;
    this.#tally = { ...EMPTY_REPORT };
    return { ...this.#spec, report };
  }

  /** A tally the store never received, added back. */
  restore(report: HealthReport): void {
    const t = this.#tally;
    t.requests += report.requests;
    t.errors += report.errors;
    t.slow += report.slow;
    t.overloaded += report.overloaded;
    t.pauseMs = Math.max(t.pauseMs, report.pauseMs);
  }

  heard(state: { factorPpm: number; pauseUntilMs: number }): void {
    this.factorPpm = state.factorPpm;
    this.pauseUntilMs = state.pauseUntilMs;
  }

  /**
   * Watches one forwarded request. It counts as slow, and is reported, as
   * soon as it has waited `latency`: news of an overloaded origin that waits
   * for its slowest answers arrives too late to act on. The returned
   * function adds what the origin answered (`undefined`: it failed outright).
   */
  watch(): (res: Response | undefined, nowMs: number) => void {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      this.#tally.requests += 1;
      this.#tally.slow += 1;
    }, this.#spec.config.latencyMs);
    return (res, nowMs) => {
      clearTimeout(timer);
      const tally = this.#tally;
      if (!late) tally.requests += 1;
      const status = res?.status ?? 502;
      if (status >= 500) tally.errors += 1;
      // The origin's own push-back (RFC 9110 §15.6.4, RFC 6585 §4).
      if (status === 503 || status === 429) tally.overloaded += 1;
      if (status === 503) {
        const pauseMs = retryAfterMs(res?.headers.get("retry-after") ?? null, nowMs);
        tally.pauseMs = Math.max(tally.pauseMs, pauseMs);
      }
    };
  }
}

/**
 * `Retry-After` (RFC 9110 §10.2.3) as ms from `nowMs`: delay-seconds or an
 * HTTP-date; 0 when absent, malformed or past.
 *
 * @example
 * retryAfterMs("30", Date.now()); // 30000
 */
export function retryAfterMs(value: string | null, nowMs: number): number {
  if (!value) return 0;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text), 86_400 * 365) * 1000;
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : 0;
}
