/** @module limiter/fallback — where a rule decides while its store cannot: the store's own recent denials first, then this isolate's count. */
import { Denials } from "./blocked-cache.ts";
import type { DecideRequest, Decision, LimitStore } from "./types.ts";

/**
 * The store-away fallback (`onStoreError: "local"`). A denial the store gave
 * in this isolate still stands here until its retry time (at most 30 s), so a
 * store that slows down mid-burst does not reopen a limit it had already
 * closed; other requests are counted by `store`, this isolate's own, which
 * also takes their refunds and lease releases.
 *
 * @example
 * const fallback = new LocalFallback(new MemoryStore());
 * fallback.heard(req, await store.decide(req)); // after each store decision
 * await fallback.decide(req); // while the store cannot answer
 */
export class LocalFallback {
  readonly store: LimitStore;
  readonly #heard = new Denials();

  constructor(store: LimitStore) {
    this.store = store;
  }

  /** A decision the store made for `req`; a full concurrency cap frees at any moment, so it is not held. */
  heard(req: DecideRequest, decision: Decision): void {
    if (!decision.concurrency) this.#heard.remember(req, decision);
  }

  async decide(req: DecideRequest): Promise<Decision> {
    return this.#heard.answer(req) ?? this.store.decide(req);
  }
}
