/** @module stores/budget — every store call finishes within its time budget, one way or another. */
import { StoreError } from "../limiter/types.ts";

/** A timer that ends a budget; `cancel` stops it. */
export interface BudgetTimer {
  cancel(): void;
}

/** Event-loop lag past which a late timer gives the store back the time it lost. */
const LAG_SLACK_MS = 20;
/** Most time a budget is stretched by, in budgets: a busy isolate waits, not forever. */
export const MAX_STRETCH = 8;
/** A budget, stretched to the full, lasts this many budgets (the client's own abort backstop). */
export const MAX_WAIT_BUDGETS = 1 + MAX_STRETCH;
/** While its owner says the isolate is busy, a budget is stretched by this share of it at a time. */
const BUSY_STEP = 4;
/** When a timer in this isolate last fired late (its event loop was behind). */
let laggedAt = Number.NEGATIVE_INFINITY;

/**
 * Records that this isolate's event loop was behind at `atMs` (a timer
 * fired late); budgets that a burst keeps busy stretch for a budget after.
 *
 * @example
 * noteLag(Date.now());
 */
export function noteLag(atMs: number): void {
  laggedAt = Math.max(laggedAt, atMs);
}

/**
 * Calls `onExpire` once `ms` of the store's time have passed. The budget
 * bounds how long a slow store may take, not how long this isolate took to
 * look at its answer, so it stretches (up to `MAX_STRETCH` budgets in all)
 * while this isolate is the slow part: by the time a timer fired late (its
 * event loop was behind), and by a quarter budget at a time while `busy()`
 * says a burst is waiting and some timer ran late within the last budget
 * (replies wait behind the burst's requests longer than timers do; `busy` is
 * asked about the wait just ended). With an idle isolate it fires on time.
 *
 * @example
 * const timer = budgetTimer(250, () => reject(new StoreError("…", "timeout")));
 * timer.cancel();
 */
export function budgetTimer(
  ms: number,
  onExpire: () => void,
  busy?: (waitedMs: number) => boolean,
): BudgetTimer {
  let handle: ReturnType<typeof setTimeout> | undefined;
  let stretched = 0;
  const arm = (wait: number) => {
    const due = Date.now() + wait;
    handle = setTimeout(() => {
      const now = Date.now();
      const late = now - due;
      if (late > LAG_SLACK_MS) noteLag(now);
      // Busy only counts while timers run late too: a dead store under a
      // flood of cheap requests is not this isolate's doing.
      const saturated = now - laggedAt <= ms && busy?.(wait) === true;
      const extra = late > LAG_SLACK_MS ? late : saturated ? Math.ceil(ms / BUSY_STEP) : 0;
      if (extra > 0 && stretched + extra <= MAX_STRETCH * ms) {
        stretched += extra;
        arm(extra);
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
 * of `ms` has passed (see `budgetTimer`, which `busy` may stretch). Other failures become
 * `StoreError("error")` so callers handle one type.
 *
 * @example
 * await withBudget(store.call(), 250);
 */
export async function withBudget<T>(
  work: Promise<T>,
  ms: number,
  busy?: (waitedMs: number) => boolean,
): Promise<T> {
  let timer: BudgetTimer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = budgetTimer(
      ms,
      () => reject(new StoreError(`store did not answer within ${ms} ms`, "timeout")),
      busy,
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
