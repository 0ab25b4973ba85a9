/** @module test/node/limiter/ban — strikes, escalating bans and their memory, in the reference model. */
import { describe, expect, it } from "vitest";
import { BAN_MEMORY_MS, banIn, banStrike, bansAmong } from "../../../src/limiter/ban.ts";
import type { BanSpec } from "../../../src/limiter/types.ts";

const MIN = 60_000;
const spec: BanSpec = {
  key: "sluice:login:~ban:ip:192.0.2.1",
  after: 3,
  withinMs: MIN,
  forMs: 10 * MIN,
  escalate: 2,
  maxMs: 60 * MIN,
};

/** Strikes `n` times at `at`, returning the state and the last strike's ban. */
function strikes(raw: string | null, at: number, n: number) {
  let state = raw;
  let started: { untilMs: number; level: number } | undefined;
  for (let i = 0; i < n; i++) {
    const s = banStrike(state, at, spec);
    state = s.value;
    started = s.started;
  }
  return { state, started };
}

describe("bans", () => {
  it("ban after `after` denials within the window, for `for`", () => {
    const t = 1_780_000_000_000;
    const two = strikes(null, t, 2);
    expect(two.started).toBeUndefined();
    expect(banIn(two.state, t)).toBeUndefined();
    const third = banStrike(two.state, t + 1000, spec);
    expect(third.started).toEqual({ untilMs: t + 1000 + 10 * MIN, level: 1 });
    expect(banIn(third.value, t + 5 * MIN)).toEqual({ untilMs: t + 1000 + 10 * MIN, level: 1 });
    expect(banIn(third.value, t + 1000 + 10 * MIN)).toBeUndefined();
  });

  it("forgets strikes older than the window", () => {
    const t = 1_780_000_000_000;
    const two = strikes(null, t, 2);
    const late = banStrike(two.state, t + MIN, spec);
    expect(late.started).toBeUndefined();
    expect(strikes(late.value, t + MIN + 1, 2).started).toBeDefined();
  });

  it("escalates each ban within a day of the last one's end: 10, 20, 40, then the 60-minute cap", () => {
    let t = 1_780_000_000_000;
    let state: string | null = null;
    const lengths: number[] = [];
    for (let round = 0; round < 5; round++) {
      const { state: next, started } = strikes(state, t, 3);
      if (!started) throw new Error("no ban");
      lengths.push((started.untilMs - t) / MIN);
      state = next;
      t = started.untilMs + 5 * MIN;
    }
    expect(lengths).toEqual([10, 20, 40, 60, 60]);
  });

  it("starts over at the first level after a day without a ban", () => {
    const t = 1_780_000_000_000;
    const first = strikes(null, t, 3);
    const end = first.started?.untilMs ?? 0;
    const again = strikes(first.state, end + BAN_MEMORY_MS + 1, 3);
    expect(again.started?.level).toBe(1);
    expect(strikes(first.state, end + BAN_MEMORY_MS, 3).started?.level).toBe(2);
  });

  it("keeps its state until the ban, the window and the day's memory have all passed", () => {
    const t = 1_780_000_000_000;
    const s = banStrike(strikes(null, t, 2).state, t, spec);
    expect(s.ttlMs).toBe(10 * MIN + BAN_MEMORY_MS);
    // No ban yet: only the strike window needs remembering.
    expect(banStrike(null, t, spec).ttlMs).toBe(MIN);
  });

  it("lists only bans in force under the prefix", () => {
    const t = 1_780_000_000_000;
    const banned = strikes(null, t, 3).state;
    const rows = [
      [spec.key, banned],
      ["sluice:login:~ban:ip:192.0.2.2", strikes(null, t, 1).state],
      ["other:login:~ban:ip:192.0.2.3", banned],
      ["sluice:login:ip-1m:ip:192.0.2.1", "1:2"],
    ] as const;
    expect(bansAmong(rows, "sluice:", t)).toEqual([
      { key: spec.key, untilMs: t + 10 * MIN, level: 1 },
    ]);
  });
});
