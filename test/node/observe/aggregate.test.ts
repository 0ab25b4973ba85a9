/** @module test/node/observe/aggregate — when an isolate flushes its metrics: at most once per interval, never two at once, nothing lost to a failed flush. */
import { describe, expect, it } from "vitest";
import { Flusher, type MetricsStore } from "../../../src/observe/aggregate.ts";
import type { Aggregate } from "../../../src/observe/exposition.ts";
import { type Deltas, Metrics } from "../../../src/observe/metrics.ts";

/** A metrics store whose `add` calls the test settles by hand. */
class ManualStore implements MetricsStore {
  readonly adds: { deltas: Deltas; settle: (ok: boolean) => void }[] = [];
  add(deltas: Deltas): Promise<void> {
    return new Promise((resolve, reject) => {
      this.adds.push({ deltas, settle: (ok) => (ok ? resolve() : reject(new Error("down"))) });
    });
  }
  read(): Promise<Aggregate> {
    throw new Error("not read here");
  }
  claimAlert(): Promise<boolean> {
    throw new Error("not claimed here");
  }
}

const requests = (d: Deltas | undefined) =>
  [...(d?.add ?? new Map<string, number>()).values()].reduce((a, b) => a + b, 0);

describe("Flusher", () => {
  it("flushes at most once per interval, from a request's background, and never two at once", async () => {
    const metrics = new Metrics();
    const store = new ManualStore();
    const flusher = new Flusher(metrics, store, 5000);
    const background: Promise<unknown>[] = [];
    const decide = (nowMs: number) => {
      metrics.count("sluice_requests", { rule: "api", outcome: "allowed" });
      flusher.maybeFlush(nowMs, (p) => background.push(p));
    };
    for (let t = 0; t < 5000; t += 500) decide(t);
    expect(store.adds).toHaveLength(0);
    decide(5000);
    expect(store.adds).toHaveLength(1);
    expect(requests(store.adds[0]?.deltas)).toBe(11);
    // Due again, but the first is still out: no second flush.
    decide(11_000);
    expect(store.adds).toHaveLength(1);
    store.adds[0]?.settle(true);
    await Promise.all(background);
    decide(11_500);
    expect(store.adds).toHaveLength(2);
    expect(requests(store.adds[1]?.deltas)).toBe(2);
  });

  it("puts a failed flush's deltas back, so the next one carries them", async () => {
    const metrics = new Metrics();
    const store = new ManualStore();
    const flusher = new Flusher(metrics, store, 5000);
    metrics.count("sluice_requests", { rule: "api", outcome: "denied" }, 3);
    const first = flusher.flush(0);
    store.adds[0]?.settle(false);
    await first;
    metrics.count("sluice_requests", { rule: "api", outcome: "denied" }, 2);
    const second = flusher.flush(1);
    expect(requests(store.adds[1]?.deltas)).toBe(5);
    store.adds[1]?.settle(true);
    await second;
    expect(metrics.empty).toBe(true);
  });
});
