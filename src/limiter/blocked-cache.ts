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
  /** When this memory stops answering for the store: `untilMs`, at most `maxHoldMs` away. */
  holdUntilMs: number;
  atMs: number;
  decision: Decision;
}

/**
 * Denials a store gave, by request shape, each answered again until its
 * retry time (at most `maxHoldMs`): the memory behind the blocked-subject
 * cache and the store-away fallback.
 *
 * @example
 * const denials = new Denials();
 * denials.remember(req, decision); // decision.allowed === false
 * denials.answer(req); // the same denial, its wait shortened by the time passed
 */
export class Denials {
  readonly #maxHoldMs: number;
  readonly #entries: BoundedMap<string, Entry>;

  constructor(options: { maxEntries?: number; maxHoldMs?: number } = {}) {
    this.#entries = new BoundedMap(options.maxEntries ?? DEFAULT_MAX_ENTRIES);
    this.#maxHoldMs = options.maxHoldMs ?? DEFAULT_MAX_HOLD_MS;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Holds `decision` for `req`'s shape, when it is a denial with a wait. */
  remember(req: DecideRequest, decision: Decision): void {
    if (decision.allowed || decision.retryAfterMs <= 0) return;
    this.#entries.set(cacheKey(req), {
      untilMs: req.nowMs + decision.retryAfterMs,
      holdUntilMs: req.nowMs + Math.min(decision.retryAfterMs, this.#maxHoldMs),
      atMs: req.nowMs,
      decision,
    });
  }

  /** The denial held for `req`'s shape at `req.nowMs`, if any. */
  answer(req: DecideRequest): Decision | undefined {
    const id = cacheKey(req);
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    const { nowMs } = req;
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

  /** Drops every denial that names one of `keys`. */
  forget(keys: readonly string[]): void {
    const touched = new Set(keys);
    for (const id of this.#entries.keys()) {
      const keys = id.split("\n").map((line) => line.slice(0, line.lastIndexOf("\t")));
      if (keys.some((k) => touched.has(k))) this.#entries.delete(id);
    }
  }
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
  readonly #denials: Denials;

  constructor(inner: LimitStore, options: { maxEntries?: number; maxHoldMs?: number } = {}) {
    this.#inner = inner;
    this.#denials = new Denials(options);
  }

  get kind(): LimitStore["kind"] {
    return this.#inner.kind;
  }

  /** Entries currently held (for tests and metrics). */
  get size(): number {
    return this.#denials.size;
  }

  async decide(req: DecideRequest): Promise<Decision> {
    if (req.countRejected && !req.ban) return this.#inner.decide(req);
    const hit = this.#denials.answer(req);
    if (hit) return hit;
    const decision = await this.#inner.decide(req);
    // With a ban (or countRejected) every denial must reach the store as a
    // strike; only the ban itself is answered from here.
    // A full concurrency cap frees as soon as a request finishes: ask again.
    const remember =
      !decision.concurrency &&
      (req.ban || req.countRejected ? decision.banned !== undefined : true);
    if (remember) this.#denials.remember(req, decision);
    return decision;
  }

  peek(req: DecideRequest): Promise<Decision> {
    return this.#inner.peek(req);
  }

  async refund(req: DecideRequest): Promise<void> {
    this.#denials.forget(req.checks.map((c) => c.key));
    await this.#inner.refund(req);
  }

  async reset(rule: string, keys: readonly string[]): Promise<void> {
    this.#denials.forget(keys);
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
