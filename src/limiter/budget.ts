/** @module limiter/budget — every store call finishes within its time budget, one way or another. */
import { StoreError } from "./types.ts";

/**
 * Settles with `work`, or rejects with a timeout `StoreError` after `ms`.
 * Other failures become `StoreError("error")` so callers handle one type.
 *
 * @example
 * await withBudget(store.call(), 250);
 */
export async function withBudget<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreError(`store did not answer within ${ms} ms`, "timeout")), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new StoreError(`store call failed: ${message}`, "error", { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
