/** @module tenants/guard — slows key guessing: failed key attempts are limited per client address. */
import { storeKey } from "../limiter/keys.ts";
import type { DecideRequest, LimitStore } from "../limiter/types.ts";

/** The limiter's rule name for failed attempts; policy rule names cannot start with "_". */
export const AUTH_RULE = "__auth";

/**
 * Counts unknown, revoked or expired key attempts per IP (subnet) in the
 * limit store. Once an address is over its rate it is locked out: this
 * isolate answers it without any store call until the lockout ends, so
 * random keys cannot make every request cost one.
 *
 * @example
 * const guard = new AuthFailureGuard(store, "sluice", { count: 10, periodMs: 60_000, burst: 10 });
 */
export class AuthFailureGuard {
  readonly #store: LimitStore;
  readonly #prefix: string;
  readonly #rate: { count: number; periodMs: number; burst: number };
  readonly #locked = new Map<string, number>();

  constructor(
    store: LimitStore,
    prefix: string,
    rate: { count: number; periodMs: number; burst: number },
  ) {
    this.#store = store;
    this.#prefix = prefix;
    this.#rate = rate;
  }

  /** ms until `ipKey` may try keys again here; 0 when it may now. */
  lockedForMs(ipKey: string, nowMs: number): number {
    const until = this.#locked.get(ipKey);
    if (until === undefined) return 0;
    if (nowMs >= until) {
      this.#locked.delete(ipKey);
      return 0;
    }
    return until - nowMs;
  }

  /**
   * Records one failed attempt; returns the lockout in ms when the address is
   * now over its rate (0 otherwise). A store failure counts nothing: the
   * attempt is still refused, only not counted.
   */
  async fail(ipKey: string, nowMs: number): Promise<number> {
    const subject = `ip:${ipKey || "unknown"}`;
    const req: DecideRequest = {
      rule: AUTH_RULE,
      checks: [
        {
          id: "failures",
          key: storeKey(this.#prefix, AUTH_RULE, "failures", subject),
          algorithm: "gcra",
          ...this.#rate,
          cost: 1,
        },
      ],
      nowMs,
      countRejected: false,
    };
    try {
      const decision = await this.#store.decide(req);
      if (decision.allowed) return 0;
      if (this.#locked.size >= 10_000) this.#locked.clear();
      this.#locked.set(ipKey, nowMs + decision.retryAfterMs);
      return decision.retryAfterMs;
    } catch {
      return 0;
    }
  }
}
