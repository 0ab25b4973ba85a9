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
    // The client's own abort signal fires at the same budget: that is a timeout too.
    if (isTimeout(err)) {
      throw new StoreError(`store did not answer within ${ms} ms`, "timeout", { cause: err });
    }
    throw new StoreError(`store call failed: ${summarize(err)}`, "error", { cause: err });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** A fetch aborted by a timeout signal (`AbortSignal.timeout`), however the client wraps it. */
function isTimeout(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e.name === "TimeoutError" || /aborted due to timeout/i.test(e.message)) return true;
  }
  return false;
}

/** Client errors quote the whole command (script text, key hashes): keep the cause only. */
function summarize(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split(", command was:")[0]?.slice(0, 160) ?? "";
}
