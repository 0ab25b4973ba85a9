/** @module tenants/guard — slows key guessing: failed key attempts are limited per client address. */
import { storeKey } from "../limiter/store-key.ts";
import type { DecideRequest, LimitCheck, LimitStore } from "../limiter/types.ts";
import { BoundedMap } from "../util/bounded-map.ts";

/** The limiter's rule name for failed attempts; policy rule names cannot start with "_". */
export const AUTH_RULE = "__auth";
/** The same for failed admin-token attempts. */
export const ADMIN_AUTH_RULE = "__admin_auth";

/** Locked-out addresses remembered per isolate at most; the oldest go first. */
const MAX_LOCKED = 10_000;

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
  readonly #rule: string;
  readonly #locked = new BoundedMap<string, number>(MAX_LOCKED);

  constructor(
    store: LimitStore,
    prefix: string,
    rate: { count: number; periodMs: number; burst: number },
    rule = AUTH_RULE,
  ) {
    this.#store = store;
    this.#prefix = prefix;
    this.#rate = rate;
    this.#rule = rule;
  }

  /** The limiter rule its failures are counted under. */
  get rule(): string {
    return this.#rule;
  }

  /** The one limit an address's failures count against (for `fail`, and to read or reset it). */
  check(ipKey: string): LimitCheck {
    return {
      id: "failures",
      key: storeKey(this.#prefix, this.#rule, "failures", `ip:${ipKey || "unknown"}`),
      algorithm: "gcra",
      ...this.#rate,
      cost: 1,
    };
  }

  /** Forgets this isolate's lockout of `ipKey` (after an admin reset of the address). */
  clear(ipKey: string): void {
    this.#locked.delete(ipKey);
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
    const req: DecideRequest = {
      rule: this.rule,
      checks: [this.check(ipKey)],
      nowMs,
      countRejected: false,
    };
    try {
      const decision = await this.#store.decide(req);
      if (decision.allowed) return 0;
      this.#locked.set(ipKey, nowMs + decision.retryAfterMs);
      return decision.retryAfterMs;
    } catch {
      return 0;
    }
  }
}
