import { describe, expect, it } from "vitest";
import { BlockedCache } from "../../../src/limiter/blocked-cache.ts";
import { evaluate } from "../../../src/limiter/model.ts";
import type { DecideRequest, Decision, LimitStore } from "../../../src/limiter/types.ts";
import { MemoryStore } from "../../../src/stores/memory/limit-store.ts";

/** The reference model in memory, counting every call that reaches it. */
class CountingStore implements LimitStore {
  readonly kind = "durable-object";
  calls = 0;
  resets = 0;
  readonly state = new Map<string, string>();
  async decide(req: DecideRequest): Promise<Decision> {
    this.calls += 1;
    const states = req.checks.map((c) => this.state.get(c.key));
    const { decision, writes } = evaluate(req.checks, states, req.nowMs, req.countRejected);
    for (const w of writes) this.state.set(w.key, w.value);
    return decision;
  }
  async peek(req: DecideRequest): Promise<Decision> {
    this.calls += 1;
    return evaluate(
      req.checks,
      req.checks.map((c) => this.state.get(c.key)),
      req.nowMs,
      false,
    ).decision;
  }
  async refund(): Promise<void> {
    this.calls += 1;
  }
  async reset(_rule: string, keys: readonly string[]): Promise<void> {
    this.resets += 1;
    for (const k of keys) this.state.delete(k);
  }
  async ping(): Promise<void> {}
  async listBans() {
    return [];
  }
  async release(): Promise<void> {}
}

/** The memory store, counting the decisions that reach it (it knows bans). */
class CountingMemory extends MemoryStore {
  calls = 0;
  override decide(req: DecideRequest): Promise<Decision> {
    this.calls += 1;
    return super.decide(req);
  }
}

const T0 = 1_790_000_000_000;

function request(nowMs: number, key = "r:ip-1m:ip:1", countRejected = false): DecideRequest {
  return {
    rule: "r",
    nowMs,
    countRejected,
    checks: [
      { id: "ip-1m", key, algorithm: "gcra", count: 2, periodMs: 60_000, burst: 2, cost: 1 },
    ],
  };
}

describe("blocked-client cache", () => {
  it("answers a blocked subject from memory until its retry time, with the right wait", async () => {
    const inner = new CountingStore();
    const store = new BlockedCache(inner);
    await store.decide(request(T0));
    await store.decide(request(T0));
    const denied = await store.decide(request(T0 + 1000));
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBe(29_000);
    expect(inner.calls).toBe(3);

    for (let i = 0; i < 50; i++) {
      const cached = await store.decide(request(T0 + 2000 + i * 100));
      expect(cached.allowed).toBe(false);
    }
    const late = await store.decide(request(T0 + 20_000));
    expect(late.retryAfterMs).toBe(10_000);
    expect(late.limits[0]?.resetMs).toBe(10_000);
    // 51 answers, not one store call among them.
    expect(inner.calls).toBe(3);

    const after = await store.decide(request(T0 + 30_000));
    expect(after.allowed).toBe(true);
    expect(inner.calls).toBe(4);
  });

  it("does not answer other subjects from a blocked subject's entry", async () => {
    const inner = new CountingStore();
    const store = new BlockedCache(inner);
    for (let i = 0; i < 3; i++) await store.decide(request(T0));
    const other = await store.decide(request(T0, "r:ip-1m:ip:2"));
    expect(other.allowed).toBe(true);
    expect(inner.calls).toBe(4);
  });

  it("always asks the store for countRejected rules", async () => {
    const inner = new CountingStore();
    const store = new BlockedCache(inner);
    for (let i = 0; i < 6; i++) await store.decide(request(T0, "k", true));
    expect(inner.calls).toBe(6);
    expect(store.size).toBe(0);
  });

  it("forgets a subject when it is reset", async () => {
    const inner = new CountingStore();
    const store = new BlockedCache(inner);
    for (let i = 0; i < 3; i++) await store.decide(request(T0));
    expect(store.size).toBe(1);
    await store.reset("r", ["r:ip-1m:ip:1"]);
    expect(store.size).toBe(0);
    expect((await store.decide(request(T0 + 1))).allowed).toBe(true);
  });

  it("asks the store again after maxHoldMs, so a reset elsewhere is seen", async () => {
    const inner = new CountingStore();
    const day = (nowMs: number): DecideRequest => ({
      rule: "r",
      nowMs,
      countRejected: false,
      checks: [
        {
          id: "ip-1d",
          key: "d",
          algorithm: "gcra",
          count: 1,
          periodMs: 86_400_000,
          burst: 1,
          cost: 1,
        },
      ],
    });
    const store = new BlockedCache(inner, { maxHoldMs: 30_000 });
    await store.decide(day(T0));
    const denied = await store.decide(day(T0 + 1000));
    expect(denied.retryAfterMs).toBe(86_399_000);
    const held = await store.decide(day(T0 + 29_000));
    expect(held.retryAfterMs).toBe(86_371_000);
    expect(inner.calls).toBe(2);
    // Another isolate resets the subject: this one sees it once the hold ends.
    inner.state.delete("d");
    expect((await store.decide(day(T0 + 31_000))).allowed).toBe(true);
    expect(inner.calls).toBe(3);
  });

  it("holds at most maxEntries, dropping the oldest", async () => {
    const store = new BlockedCache(new CountingStore(), { maxEntries: 2 });
    for (const subject of ["a", "b", "c"]) {
      for (let i = 0; i < 3; i++) await store.decide(request(T0, subject));
    }
    expect(store.size).toBe(2);
  });
});

describe("BlockedCache with a ban", () => {
  const banned = (nowMs: number): DecideRequest => ({
    ...request(nowMs, "r:ip-1m:ip:9"),
    ban: {
      key: "r:~ban:ip:9",
      after: 2,
      withinMs: 60_000,
      forMs: 600_000,
      escalate: 2,
      maxMs: 3_600_000,
    },
  });

  it("lets every denial reach the store as a strike, then answers the ban from memory", async () => {
    const inner = new CountingMemory();
    const cache = new BlockedCache(inner);
    const outcomes = [];
    for (let i = 0; i < 6; i++) {
      const d = await cache.decide(banned(T0 + i));
      outcomes.push(d.banned ? "banned" : d.allowed);
    }
    // 2 admitted, 2 denials (both strikes reach the store), then the ban from memory.
    expect(outcomes).toEqual([true, true, false, "banned", "banned", "banned"]);
    expect(inner.calls).toBe(4);
    const later = await cache.decide(banned(T0 + 10_000));
    expect(later.retryAfterMs).toBe(600_000 - 10_000 + 3);
    expect(inner.calls).toBe(4);
  });

  it("forgets a ban lifted through it at once", async () => {
    const inner = new CountingMemory();
    const cache = new BlockedCache(inner);
    for (let i = 0; i < 4; i++) await cache.decide(banned(T0));
    expect((await cache.decide(banned(T0))).banned).toBeDefined();
    await cache.reset("r", ["r:~ban:ip:9", "r:ip-1m:ip:9"]);
    expect((await cache.decide(banned(T0 + 1))).allowed).toBe(true);
  });
});
