/** @module stores/budget — every store call finishes within its time budget, one way or another. */
import { StoreError } from "../limiter/types.ts";

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
    timer = setTimeout(
      () => reject(new StoreError(`store did not answer within ${ms} ms`, "timeout")),
      ms,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(`store call failed: ${summarize(err)}`, "error", { cause: err });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Client errors quote the whole command (script text, key hashes): keep the cause only. */
function summarize(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split(", command was:")[0]?.slice(0, 160) ?? "";
}
