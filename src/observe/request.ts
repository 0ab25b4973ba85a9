/** @module observe/request — what one request's observation carries, kept in async context so the decision sink finds it without the middleware passing it. */
import { AsyncLocalStorage } from "node:async_hooks";
import type { DecisionEvent } from "./index.ts";
import type { TraceContext } from "./trace-context.ts";

/** One request as the observe step follows it. */
export interface RequestObservation {
  trace: TraceContext;
  /** Wall-clock start, ms. */
  startedMs: number;
  /** The origin's time to response headers, when the request was forwarded. */
  originMs?: number;
  /** The request's decision line (its last one before the response, refunds aside). */
  event?: DecisionEvent;
  /** The canary policy decided it (only when a canary is configured). */
  canary?: boolean;
  /** The request's `waitUntil`: telemetry a request starts is kept alive by that request. */
  background?: (work: Promise<unknown>) => void;
}

declare module "hono" {
  interface ContextVariableMap {
    observation?: RequestObservation;
  }
}

// Node's AsyncLocalStorage, native in workerd (nodejs_compat, on by default
// from the 2026-08-04 compatibility date): the decision sink runs deep in the
// middleware, which knows nothing of tracing.
const current = new AsyncLocalStorage<RequestObservation>();

/**
 * Runs `work` with `obs` as the current request's observation.
 *
 * @example
 * await withObservation(obs, () => next());
 */
export function withObservation<T>(obs: RequestObservation, work: () => T): T {
  return current.run(obs, work);
}

/**
 * The current request's observation, if the gateway's observe step is running it.
 *
 * @example
 * currentObservation()?.trace.traceId;
 */
export function currentObservation(): RequestObservation | undefined {
  return current.getStore();
}
