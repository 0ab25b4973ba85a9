/** @module middleware/rate-limit/background — work that may outlive the response, where the runtime allows it. */
import type { Context } from "hono";

/**
 * The request's `waitUntil` (Workers), or undefined off Workers, where work
 * simply runs on after the response.
 *
 * @example
 * waitUntilOf(c)?.(refund);
 */
export function waitUntilOf(c: Context): ((work: Promise<unknown>) => void) | undefined {
  let ctx: ExecutionContext | undefined;
  try {
    ctx = c.executionCtx as ExecutionContext;
  } catch {
    return undefined;
  }
  return (work) => ctx.waitUntil(work);
}
