/** @module limiter/blocked-cache — answers for subjects known to be denied, without a store call. */
import { BoundedMap } from "../util/bounded-map.ts";
import type { DecideRequest, Decision, LimitStore } from "./types.ts";

/** Entries kept per isolate at most; the oldest go first. */
const DEFAULT_MAX_ENTRIES = 10_000;
/**
 * Longest an entry answers for the store: a reset made in another isolate is
 * seen within this, even when the wait is a day long.
 */
const DEFAULT_MAX_HOLD_MS = 30_000;

interface Entry {
  /** When the subject may pass again (the store's answer). */
  untilMs: number;
  /** When this isolate asks the store again: `untilMs`, at most `maxHoldMs` away. */
  holdUntilMs: number;
  atMs: number;
  decision: Decision;
}

/**
 * Wraps a store: once a request is denied until time T, the same subjects on
 * the same rule are answered from this isolate's memory until T, with the
 * remaining wait as Retry-After, and the store is not called. Nothing is
 * lost: a denied request would not have consumed anything anyway.
 *
 * Not used for `countRejected` rules, whose denied attempts must count.
 * A `reset` or `refund` through this wrapper drops the entries it touches;
 * one made elsewhere (another isolate) is seen within `maxHoldMs` (30 s).
 *
 * @example
 * const store = new BlockedCache(new RedisStore(redis, { timeoutMs: 250 }));
 */
export class BlockedCache implements LimitStore {
  readonly #inner: LimitStore;
  readonly #maxHoldMs: number;
  readonly #entries: BoundedMap<string, Entry>;

  constructor(inner: LimitStore, options: { maxEntries?: number; maxHoldMs?: number } = {}) {
    this.#inner = inner;
    this.#entries = new BoundedMap(options.maxEntries ?? DEFAULT_MAX_ENTRIES);
    this.#maxHoldMs = options.maxHoldMs ?? DEFAULT_MAX_HOLD_MS;
  }

  get kind(): LimitStore["kind"] {
    return this.#inner.kind;
  }

  /** Entries currently held (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  async decide(req: DecideRequest): Promise<Decision> {
    if (req.countRejected && !req.ban) return this.#inner.decide(req);
    const id = cacheKey(req);
    const hit = this.#lookup(id, req.nowMs);
    if (hit) return hit;
    const decision = await this.#inner.decide(req);
    // With a ban (or countRejected) every denial must reach the store as a
    // strike; only the ban itself is answered from here.
    // A full concurrency cap frees as soon as a request finishes: ask again.
    const remember =
      !decision.concurrency &&
      (req.ban || req.countRejected ? decision.banned !== undefined : true);
    if (remember && !decision.allowed && decision.retryAfterMs > 0) {
      this.#entries.set(id, {
        untilMs: req.nowMs + decision.retryAfterMs,
        holdUntilMs: req.nowMs + Math.min(decision.retryAfterMs, this.#maxHoldMs),
        atMs: req.nowMs,
        decision,
      });
    }
    return decision;
  }

  peek(req: DecideRequest): Promise<Decision> {
    return this.#inner.peek(req);
  }

  async refund(req: DecideRequest): Promise<void> {
    this.#forget(req.checks.map((c) => c.key));
    await this.#inner.refund(req);
  }

  async reset(rule: string, keys: readonly string[]): Promise<void> {
    this.#forget(keys);
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

  #lookup(id: string, nowMs: number): Decision | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (nowMs >= entry.holdUntilMs) {
      this.#entries.delete(id);
      return undefined;
    }
    const elapsed = Math.max(0, nowMs - entry.atMs);
    return {
      allowed: false,
      retryAfterMs: entry.untilMs - nowMs,
      limits: entry.decision.limits.map((l) => ({
        ...l,
        resetMs: Math.max(0, l.resetMs - elapsed),
      })),
      ...(entry.decision.banned ? { banned: { ...entry.decision.banned, started: false } } : {}),
    };
  }

  #forget(keys: readonly string[]): void {
    const touched = new Set(keys);
    for (const id of this.#entries.keys()) {
      const keys = id.split("\n").map((line) => line.slice(0, line.lastIndexOf("\t")));
      if (keys.some((k) => touched.has(k))) this.#entries.delete(id);
    }
  }
}

/**
 * The rule's full tuple of keys, costs and limits: a denial only answers the
 * same request shape (a tenant's override changes the limits, and so the key).
 */
function cacheKey(req: DecideRequest): string {
  const checks = req.checks.map(
    (c) => `${c.key}\t${c.cost}/${c.count}/${c.periodMs}/${c.burst}/${c.algorithm}`,
  );
  // A ban's key is part of the shape, so lifting the ban forgets the entry.
  if (req.ban) checks.push(`${req.ban.key}\tban`);
  return checks.join("\n");
}
