/** @module middleware/rate-limit/count-status — `countStatus`: give an admitted request's cost back when its response should not count. */
import type { Context } from "hono";
import type { DecideRequest, LimitStore } from "../../limiter/types.ts";
import type { DecisionEvent, DecisionSink } from "../../observe/index.ts";
import { waitUntilOf } from "./background.ts";

/**
 * Does `status` count under `patterns`? `"4xx"` matches 400–499, `"401"` only 401.
 *
 * @example
 * statusCounts(401, ["4xx"]); // true
 * statusCounts(200, ["4xx"]); // false
 */
export function statusCounts(status: number, patterns: readonly string[]): boolean {
  const code = String(status);
  return patterns.some((p) => (p.endsWith("xx") ? p[0] === code[0] : p === code));
}

/**
 * Refunds the decision after the response, off the request's critical path,
 * and logs `refunded` (or `refund-failed`: a lost refund only makes the limit
 * stricter).
 *
 * @example
 * if (!statusCounts(c.res.status, rule.countStatus)) refundAfter(c, store, request, sink, event);
 */
export function refundAfter(
  c: Context,
  store: LimitStore,
  request: DecideRequest,
  sink: DecisionSink,
  event: DecisionEvent,
): void {
  const work = refund(store, request, sink, event);
  waitUntilOf(c)?.(work);
}

async function refund(
  store: LimitStore,
  request: DecideRequest,
  sink: DecisionSink,
  event: DecisionEvent,
): Promise<void> {
  try {
    await store.refund(request);
    sink({ ...event, outcome: "refunded" });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    sink({ ...event, outcome: "refund-failed", storeError: reason });
  }
}
