/** @module limiter/fallback — where a rule decides while its store cannot: the store's own recent denials first, then this isolate's count. */
import { Denials } from "./blocked-cache.ts";
import type { DecideRequest, Decision, LimitStore } from "./types.ts";

/**
 * The store-away fallback (`onStoreError: "local"`). A denial the store gave
 * in this isolate still stands here until its retry time (at most 30 s), so a
 * store that slows down mid-burst does not reopen a limit it had already
 * closed; other requests are counted by `inner`, this isolate's own store.
 *
 * @example
 * const fallback = new LocalFallback(new MemoryStore());
 * fallback.heard(req, await store.decide(req)); // after each store decision
 * await fallback.decide(req); // while the store cannot answer
 */
export class LocalFallback implements LimitStore {
  readonly #inner: LimitStore;
  readonly #heard = new Denials();

  constructor(inner: LimitStore) {
    this.#inner = inner;
  }

  get kind(): LimitStore["kind"] {
    return this.#inner.kind;
  }

  /** A decision the store made for `req`; a full concurrency cap frees at any moment, so it is not held. */
  heard(req: DecideRequest, decision: Decision): void {
    if (!decision.concurrency) this.#heard.remember(req, decision);
  }

  async decide(req: DecideRequest): Promise<Decision> {
    return this.#heard.answer(req) ?? this.#inner.decide(req);
  }

  peek(req: DecideRequest): Promise<Decision> {
    return this.#inner.peek(req);
  }

  async refund(req: DecideRequest): Promise<void> {
    this.#heard.forget(req.checks.map((c) => c.key));
    await this.#inner.refund(req);
  }

  async reset(rule: string, keys: readonly string[]): Promise<void> {
    this.#heard.forget(keys);
    await this.#inner.reset(rule, keys);
  }

  ping(): Promise<void> {
    return this.#inner.ping();
  }

  release(lease: { rule: string; key: string; id: string; nowMs: number }): Promise<void> {
    return this.#inner.release(lease);
  }

  listBans(prefix: string, rules: readonly string[], nowMs: number) {
    return this.#inner.listBans(prefix, rules, nowMs);
  }
}
