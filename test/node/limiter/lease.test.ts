/** @module test/node/limiter/lease — concurrency leases in the reference model: cap, release, deadlines. */
import { describe, expect, it } from "vitest";
import { leaseAcquire, leaseRelease } from "../../../src/limiter/lease.ts";

const spec = (id: string, max = 2) => ({ key: "k", max, id, ttlMs: 1000 });

describe("leases", () => {
  it("holds at most `max`, and says how many are in flight", () => {
    const t = 1_780_000_000_000;
    const a = leaseAcquire(null, t, spec("a"));
    if (!("write" in a)) throw new Error("a not taken");
    const b = leaseAcquire(a.write.value, t, spec("b"));
    if (!("write" in b)) throw new Error("b not taken");
    expect(leaseAcquire(b.write.value, t, spec("c"))).toEqual({ inFlight: 2 });
    expect(b.write).toEqual({ value: `${t},a:${t + 1000},b:${t + 1000}`, ttlMs: 1000 });
  });

  it("frees a lease given back, and is a no-op for one not held", () => {
    const t = 1_780_000_000_000;
    const a = leaseAcquire(null, t, spec("a", 1));
    if (!("write" in a)) throw new Error("a not taken");
    expect(leaseRelease(a.write.value, t, "zz")).toBeUndefined();
    const freed = leaseRelease(a.write.value, t + 5, "a");
    expect(freed?.value).toBe(`${t + 5}`);
    expect("write" in leaseAcquire(freed?.value, t + 5, spec("b", 1))).toBe(true);
  });

  it("lets a lease lapse at its deadline, so a crashed holder cannot leak capacity", () => {
    const t = 1_780_000_000_000;
    const a = leaseAcquire(null, t, spec("a", 1));
    if (!("write" in a)) throw new Error("a not taken");
    expect(leaseAcquire(a.write.value, t + 999, spec("b", 1))).toEqual({ inFlight: 1 });
    expect("write" in leaseAcquire(a.write.value, t + 1000, spec("b", 1))).toBe(true);
  });

  it("reads anything malformed as no leases", () => {
    for (const raw of ["", "x", "1,a", "1,a:", "1,,a:2", "1,a:2,", "1,a-b:2"]) {
      expect(leaseAcquire(raw, 5, spec("n", 1))).toMatchObject({ write: { value: "5,n:1005" } });
    }
  });
});
