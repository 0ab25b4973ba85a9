/** @module stores/budget — every store call finishes within its time budget, one way or another. */
import { StoreError } from "../limiter/types.ts";

/** A timer that ends a budget; `cancel` stops it. */
export interface BudgetTimer {
  cancel(): void;
}

/** Event-loop lag past which a late timer gives the store back the time it lost. */
const LAG_SLACK_MS = 20;
/** Most time a budget is stretched by, in budgets: a busy isolate waits, not forever. */
const MAX_STRETCH = 3;

/**
 * Calls `onExpire` once `ms` of the store's time have passed. A timer that
 * fires late because this isolate was busy (a burst saturating its CPU)
 * re-arms for the time it was late, up to `MAX_STRETCH` budgets in all: the
 * budget bounds how long a slow store may take, not how long this isolate
 * took to look at its answer. With an idle isolate it fires on time.
 *
 * @example
 * const timer = budgetTimer(250, () => reject(new StoreError("…", "timeout")));
 * timer.cancel();
 */
export function budgetTimer(ms: number, onExpire: () => void): BudgetTimer {
  let handle: ReturnType<typeof setTimeout> | undefined;
  let stretched = 0;
  const arm = (wait: number) => {
    const due = Date.now() + wait;
    handle = setTimeout(() => {
      const late = Date.now() - due;
      if (late > LAG_SLACK_MS && stretched + late <= MAX_STRETCH * ms) {
        stretched += late;
        arm(late);
        return;
      }
      handle = undefined;
      onExpire();
    }, wait);
  };
  arm(ms);
  return {
    cancel() {
      if (handle !== undefined) clearTimeout(handle);
      handle = undefined;
    },
  };
}

/**
 * Settles with `work`, or rejects with a timeout `StoreError` once the budget
 * of `ms` has passed (see `budgetTimer`). Other failures become
 * `StoreError("error")` so callers handle one type.
 *
 * @example
 * await withBudget(store.call(), 250);
 */
export async function withBudget<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: BudgetTimer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = budgetTimer(ms, () =>
      reject(new StoreError(`store did not answer within ${ms} ms`, "timeout")),
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
    timer?.cancel();
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
