/** @module test/node/stores/group-commit — batching, bounds, budgets and skipping of the group commit. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StoreError } from "../../../src/limiter/types.ts";
import { budgetTimer, noteLag } from "../../../src/stores/budget.ts";
import {
  GROUP_COMMIT_DEFAULTS,
  GroupCommit,
  type GroupCommitOptions,
  MAX_POLL_MS,
} from "../../../src/stores/group-commit.ts";

/** A store whose calls the test answers by hand. */
class ManualStore {
  calls: Array<{ items: number[]; answer: (ok: boolean) => void }> = [];
  send = (items: number[]): Promise<number[]> =>
    new Promise((resolve, reject) => {
      this.calls.push({
        items,
        answer: (ok) => (ok ? resolve(items.map((i) => i * 10)) : reject(new Error("boom"))),
      });
    });
}

let clock = 0;
const options = (over: Partial<GroupCommitOptions> = {}): GroupCommitOptions => ({
  ...GROUP_COMMIT_DEFAULTS,
  timeoutMs: 250,
  now: () => clock,
  ...over,
});

/** Lets pending callbacks run, and each waiting request's own timer look (at most MAX_POLL_MS apart). */
const flush = () => vi.advanceTimersByTimeAsync(MAX_POLL_MS);

/** Moves the clock `ms` on while the isolate's timers keep running late (a saturated isolate). */
async function saturated(ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 10) {
    noteLag(Date.now());
    await vi.advanceTimersByTimeAsync(Math.min(10, left));
  }
}

/** Each test's fake clock starts a day after the last one's: the isolate's record of lag is behind it. */
let epoch = Date.UTC(2026, 0, 1);
beforeEach(() => {
  vi.useFakeTimers();
  epoch += 86_400_000;
  vi.setSystemTime(epoch);
  clock = 0;
});
afterEach(() => vi.useRealTimers());

describe("GroupCommit", () => {
  it("sends a lone item at once, in its caller's turn", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options());
    const result = commit.run(1);
    expect(store.calls.map((c) => c.items)).toEqual([[1]]);
    store.calls[0]?.answer(true);
    expect(await result).toBe(10);
  });

  it("sends items that arrive during a call together in the next call, in arrival order", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options());
    const results = [1, 2, 3, 4].map((i) => commit.run(i));
    expect(store.calls.map((c) => c.items)).toEqual([[1]]);
    expect(commit.queued).toBe(3);
    store.calls[0]?.answer(true);
    await flush();
    expect(store.calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    store.calls[1]?.answer(true);
    await flush();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40]);
    expect(commit.calls).toBe(2);
  });

  it("hands queued members their outcomes from their own timers, never from the request that heard the store", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options());
    const heard: number[] = [];
    const results = [1, 2, 3, 4].map((i) => commit.run(i).then((r) => heard.push(r)));
    store.calls[0]?.answer(true);
    await vi.advanceTimersByTimeAsync(0);
    // The lone first call was sent from its own request: answered at once.
    expect(heard).toEqual([10]);
    await flush();
    expect(store.calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    store.calls[1]?.answer(true);
    await vi.advanceTimersByTimeAsync(0);
    // Nothing runs in the request that heard the store on the others' behalf.
    expect(heard).toEqual([10]);
    await flush();
    await Promise.all(results);
    expect(heard.toSorted()).toEqual([10, 20, 30, 40]);
  });

  it("carries at most maxBatch items per call", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options({ maxBatch: 2 }));
    const results = [1, 2, 3, 4, 5].map((i) => commit.run(i));
    store.calls[0]?.answer(true);
    await flush();
    expect(store.calls.map((c) => c.items)).toEqual([[1], [2, 3]]);
    store.calls[1]?.answer(true);
    await flush();
    expect(store.calls.map((c) => c.items)).toEqual([[1], [2, 3], [4, 5]]);
    store.calls[2]?.answer(true);
    await flush();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50]);
  });

  it("the newest member sends the batch and keeps its request alive until the call settles", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options());
    const kept: string[] = [];
    const keep = (name: string) => (p: Promise<unknown>) => {
      void p.then(() => kept.push(name));
    };
    const results = ["a", "b", "c"].map((n, i) => commit.run(i, keep(n)));
    store.calls[0]?.answer(true);
    await flush();
    store.calls[1]?.answer(true);
    await flush();
    await Promise.all(results);
    expect(kept).toEqual(["a", "c"]);
  });

  it("allows more calls in flight when the store is far, one when it is near", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options({ msPerCallInFlight: 2, maxInFlight: 8 }));
    expect(commit.limit).toBe(1);
    for (let i = 0; i < 20; i++) {
      const r = commit.run(i);
      clock += 12;
      store.calls.at(-1)?.answer(true);
      await r;
    }
    expect(commit.limit).toBe(6);
    const near = new GroupCommit(store.send, options({ msPerCallInFlight: 2 }));
    for (let i = 0; i < 20; i++) {
      const r = near.run(i);
      clock += 1;
      store.calls.at(-1)?.answer(true);
      await r;
    }
    expect(near.limit).toBe(1);
  });

  it("gives a waiter up at its budget, as a timeout, and forgets it", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options());
    void commit.run(1).catch(() => {});
    const waiting = commit.run(2);
    const outcome = waiting.catch((e: unknown) => e);
    expect(commit.queued).toBe(1);
    await vi.advanceTimersByTimeAsync(250);
    const err = await outcome;
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).reason).toBe("timeout");
    expect(commit.queued).toBe(0);
  });

  it("answers with the store's outcome when it was left for the waiter before its budget ended", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options());
    void commit.run(1);
    const outcome = commit.run(2).catch((e: unknown) => e);
    store.calls[0]?.answer(true);
    await vi.advanceTimersByTimeAsync(249);
    // Its answer arrives with a millisecond of budget left, between two looks.
    store.calls[1]?.answer(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBe(20);
  });

  it("in a saturated isolate, waits past the budget while a burst's decisions wait, and answers them from the store", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options());
    // 40 waiting: more than one per 8 ms of a 250 ms budget.
    const outcomes = Array.from({ length: 40 }, (_, i) => commit.run(i).catch((e: unknown) => e));
    await saturated(600);
    store.calls[0]?.answer(true);
    await flush();
    store.calls[1]?.answer(true);
    await flush();
    expect(await Promise.all(outcomes)).toEqual(Array.from({ length: 40 }, (_, i) => i * 10));
  });

  it("in a saturated isolate, keeps the budget when few decisions wait, and gives a burst up after eight more budgets", async () => {
    const store = new ManualStore();
    const few = new GroupCommit(store.send, options());
    const lone = Array.from({ length: 10 }, (_, i) => few.run(i).catch((e: unknown) => e));
    await saturated(250);
    for (const e of await Promise.all(lone)) expect(e).toMatchObject({ reason: "timeout" });

    const many = new GroupCommit(store.send, options());
    let settled = 0;
    const burst = Array.from({ length: 40 }, (_, i) =>
      many.run(i).then(
        () => settled++,
        (e: unknown) => {
          settled++;
          return e;
        },
      ),
    );
    await saturated(250 * 9 - 70);
    expect(settled).toBe(0);
    await saturated(140);
    for (const e of await Promise.all(burst)) expect(e).toMatchObject({ reason: "timeout" });
  });

  it("refuses at once, as overload, when the queue is full", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options({ maxQueue: 2 }));
    void commit.run(0).catch(() => {});
    void commit.run(1).catch(() => {});
    void commit.run(2).catch(() => {});
    await expect(commit.run(3)).rejects.toMatchObject({ reason: "overload" });
    expect(commit.queued).toBe(2);
  });

  it("skips a store that failed three calls in a row, probes it once a second, and uses it again once it answers", async () => {
    const store = new ManualStore();
    const commit = new GroupCommit(store.send, options());
    for (let i = 0; i < 3; i++) {
      const r = commit.run(i);
      store.calls.at(-1)?.answer(false);
      await expect(r).rejects.toMatchObject({ reason: "error" });
    }
    await expect(commit.run(9)).rejects.toMatchObject({ reason: "skipped" });
    expect(store.calls).toHaveLength(3);
    clock += 1000;
    const probe = commit.run(10);
    await expect(commit.run(11)).rejects.toMatchObject({ reason: "skipped" });
    expect(store.calls).toHaveLength(4);
    store.calls.at(-1)?.answer(true);
    expect(await probe).toBe(100);
    const back = commit.run(12);
    store.calls.at(-1)?.answer(true);
    expect(await back).toBe(120);
  });

  it("holds a bounded queue while a dead store swallows a flood", async () => {
    // The store never answers: every call runs out its budget.
    const commit = new GroupCommit<number, number>(
      () => new Promise(() => {}),
      options({ maxQueue: 100 }),
    );
    const outcomes: Promise<unknown>[] = [];
    let most = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 150; i++) outcomes.push(commit.run(i).catch((e: unknown) => e));
      most = Math.max(most, commit.queued);
      await vi.advanceTimersByTimeAsync(100);
      clock += 100;
    }
    // Its timers run on time: the isolate is not the slow part, the budgets hold.
    await vi.advanceTimersByTimeAsync(1000);
    const reasons = new Set((await Promise.all(outcomes)).map((e) => (e as StoreError).reason));
    expect(most).toBe(100);
    expect(commit.queued).toBe(0);
    expect(commit.inFlight).toBe(0);
    // Every caller got an answer it can fall back on, and most were not even queued.
    expect([...reasons].sort()).toEqual(["overload", "skipped", "timeout"]);
  });
});

describe("budgetTimer", () => {
  it("fires on time when the isolate is idle", async () => {
    let fired = 0;
    budgetTimer(250, () => fired++);
    await vi.advanceTimersByTimeAsync(249);
    expect(fired).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired).toBe(1);
  });

  it("gives back the time a busy isolate lost, up to eight budgets more", async () => {
    let firedAt = 0;
    const start = Date.now();
    budgetTimer(250, () => {
      firedAt = Date.now() - start;
    });
    // The isolate was busy: the clock ran on while the timer could not fire.
    vi.setSystemTime(start + 400);
    await vi.advanceTimersByTimeAsync(250);
    expect(firedAt).toBe(0);
    await vi.advanceTimersByTimeAsync(400);
    expect(firedAt).toBe(1050);

    firedAt = 0;
    const again = Date.now();
    budgetTimer(250, () => {
      firedAt = Date.now() - again;
    });
    vi.setSystemTime(again + 5000);
    await vi.advanceTimersByTimeAsync(250);
    // Too late to make up: a stuck isolate still gives up.
    expect(firedAt).toBe(5250);
  });

  it("stretches a quarter budget at a time while its owner says busy and timers run late, eight budgets at most", async () => {
    let fired = 0;
    let busy = true;
    const asked: number[] = [];
    budgetTimer(
      250,
      () => fired++,
      (waited) => {
        asked.push(waited);
        return busy;
      },
    );
    await saturated(250 + 63 * 4);
    expect(fired).toBe(0);
    expect(asked).toEqual([250, 63, 63, 63, 63]);
    busy = false;
    await saturated(62);
    expect(fired).toBe(0);
    await saturated(1);
    expect(fired).toBe(1);

    fired = 0;
    budgetTimer(
      250,
      () => fired++,
      () => true,
    );
    // 31 steps of 63 ms fit in eight budgets; the next would not.
    await saturated(250 + 31 * 63 - 1);
    expect(fired).toBe(0);
    await saturated(63);
    expect(fired).toBe(1);
  });

  it("keeps its budget when its owner says busy but no timer runs late", async () => {
    await vi.advanceTimersByTimeAsync(1000);
    let fired = 0;
    budgetTimer(
      250,
      () => fired++,
      () => true,
    );
    await vi.advanceTimersByTimeAsync(250);
    expect(fired).toBe(1);
  });

  it("does nothing once cancelled", async () => {
    let fired = 0;
    budgetTimer(250, () => fired++).cancel();
    await vi.advanceTimersByTimeAsync(1000);
    expect(fired).toBe(0);
  });
});
