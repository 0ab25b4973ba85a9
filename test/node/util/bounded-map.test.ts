/** @module test/node/util/bounded-map — the one eviction rule of the per-isolate caches. */
import { describe, expect, it } from "vitest";
import { BoundedMap } from "../../../src/util/bounded-map.ts";

describe("BoundedMap", () => {
  it("drops the oldest entry when full", () => {
    const m = new BoundedMap<string, number>(2);
    m.set("a", 1).set("b", 2).set("c", 3);
    expect([...m.keys()]).toEqual(["b", "c"]);
  });

  it("setting a key again makes it the newest", () => {
    const m = new BoundedMap<string, number>(2);
    m.set("a", 1).set("b", 2).set("a", 10).set("c", 3);
    expect([...m.entries()]).toEqual([
      ["a", 10],
      ["c", 3],
    ]);
  });

  it("never holds more than its cap under a flood", () => {
    const m = new BoundedMap<number, number>(100);
    for (let i = 0; i < 10_000; i++) m.set(i, i);
    expect(m.size).toBe(100);
    expect(m.has(9_999)).toBe(true);
    expect(m.has(9_899)).toBe(false);
  });

  it("refuses a cap that is not a positive integer", () => {
    expect(() => new BoundedMap(0)).toThrow(RangeError);
    expect(() => new BoundedMap(1.5)).toThrow(RangeError);
  });
});
