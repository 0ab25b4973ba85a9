/** @module test/node/observe/health — the store is probed at most once a second per isolate, however often health is asked (audit F7). */
import { describe, expect, it } from "vitest";
import type { LimitStore } from "../../../src/limiter/types.ts";
import { HealthProbe } from "../../../src/observe/health.ts";
import { MemoryStore } from "../../../src/stores/memory/limit-store.ts";

function counted(fail?: string): { store: LimitStore; pings: () => number } {
  const store = new MemoryStore();
  let n = 0;
  store.ping = async () => {
    n++;
    await new Promise((r) => setTimeout(r, 5));
    if (fail) throw new Error(fail);
  };
  return { store, pings: () => n };
}

describe("HealthProbe", () => {
  it("probes once for 300 checks within a second, then once more after it", async () => {
    const { store, pings } = counted();
    let now = 1_000_000;
    const probe = new HealthProbe(store, () => now);
    for (let i = 0; i < 300; i++) {
      expect((await probe.check()).reachable).toBe(true);
      now += 3;
    }
    expect(pings()).toBe(1);
    now += 200;
    await probe.check();
    expect(pings()).toBe(2);
  });

  it("shares one probe among concurrent checks", async () => {
    const { store, pings } = counted();
    const probe = new HealthProbe(store, () => 0);
    const all = await Promise.all(Array.from({ length: 100 }, () => probe.check()));
    expect(pings()).toBe(1);
    expect(new Set(all).size).toBe(1);
  });

  it("keeps the store's error text for whoever may see it", async () => {
    const { store } = counted("ERR connect ECONNREFUSED 10.0.0.5:6379");
    const health = await new HealthProbe(store, () => 0).check();
    expect(health).toMatchObject({
      reachable: false,
      error: "ERR connect ECONNREFUSED 10.0.0.5:6379",
    });
  });
});
