/** @module policy/fit — whether a rate can serve a limit: which algorithms take a burst, what a request's cost must fit in, exact arithmetic. */
import type { IssueCode } from "./codes.ts";
import type { Algorithm, Rate } from "./types.ts";

/**
 * Algorithms with a capacity of their own; the windows and the log admit exactly their count.
 *
 * @example
 * BUCKETS; // → ["gcra", "token-bucket"]
 */
export const BUCKETS: readonly Algorithm[] = ["gcra", "token-bucket"];

/**
 * True when the algorithm has a burst (a bucket capacity) apart from its count.
 *
 * @example
 * takesBurst("token-bucket"); // → true
 * takesBurst("fixed-window"); // → false
 */
export function takesBurst(algorithm: Algorithm): boolean {
  return BUCKETS.includes(algorithm);
}

/**
 * The most cost units one request can spend under `rate`: a bucket's burst, a window's or a log's
 * count. A limit whose cost exceeds it could never admit a request.
 *
 * @example
 * capacity("gcra", { count: 10, periodMs: 1000, burst: 20 });         // → { what: "burst", room: 20 }
 * capacity("fixed-window", { count: 10, periodMs: 1000, burst: 10 }); // → { what: "count", room: 10 }
 */
export function capacity(
  algorithm: Algorithm,
  rate: Rate,
): { what: "burst" | "count"; room: number } {
  return takesBurst(algorithm)
    ? { what: "burst", room: rate.burst }
    : { what: "count", room: rate.count };
}

/**
 * Why `algorithm` cannot compute `rate` exactly, or undefined when it can. Token buckets count in
 * 1/period of a token and sliding windows weigh counts by the ms, so `burst × period` (resp.
 * `count × period`) must be an exact integer in a double — in the models and in Lua alike.
 *
 * @example
 * checkPrecision("token-bucket", { count: 1, periodMs: 1000, burst: 2 ** 50 });
 * // → "token-bucket computes with burst × period in exact integers, but … exceeds 2^53; …"
 */
export function checkPrecision(algorithm: Algorithm, rate: Rate): string | undefined {
  const factor =
    algorithm === "token-bucket"
      ? { name: "burst", value: rate.burst }
      : algorithm === "sliding-window"
        ? { name: "count", value: rate.count }
        : undefined;
  if (factor === undefined || factor.value * rate.periodMs <= Number.MAX_SAFE_INTEGER) {
    return undefined;
  }
  return `${algorithm} computes with ${factor.name} × period in exact integers, but ${factor.value} × ${rate.periodMs} ms exceeds 2^53; lower the ${factor.name}, shorten the period or use "gcra"`;
}

/**
 * Why a rate taken from a plan or an override cannot serve `limit`, or
 * undefined when it can: windows and logs have no burst, every limit's cost
 * must fit, and the arithmetic must stay exact (see {@link checkPrecision}).
 *
 * @example
 * planRateProblem({ algorithm: "fixed-window", cost: 1 }, { count: 10, periodMs: 1000, burst: 20 });
 * // → { code: "ERR_SLUICE_BURST_UNSUPPORTED", message: "fixed-window has no burst, …" }
 */
export function planRateProblem(
  limit: { algorithm: Algorithm; cost: number },
  rate: Rate,
): { code: IssueCode; message: string } | undefined {
  if (!takesBurst(limit.algorithm) && rate.burst !== rate.count) {
    return {
      code: "ERR_SLUICE_BURST_UNSUPPORTED",
      message: `${limit.algorithm} has no burst, but burst ${rate.burst} differs from count ${rate.count}`,
    };
  }
  const { what, room } = capacity(limit.algorithm, rate);
  if (limit.cost > room) {
    return {
      code: "ERR_SLUICE_COST_EXCEEDS_BURST",
      message: `${what} ${room} is below cost ${limit.cost}, so no request could ever be admitted`,
    };
  }
  const precision = checkPrecision(limit.algorithm, rate);
  return precision === undefined
    ? undefined
    : { code: "ERR_SLUICE_RATE_PRECISION", message: precision };
}
