/** @module test/node/policy/rate — rate notation: what parses, and the exact message for what does not. */
import { describe, expect, it } from "vitest";
import {
  checkPeriodMs,
  formatPeriod,
  MAX_PERIOD_MS,
  parsePeriod,
  parseRate,
  positiveInt,
} from "../../../src/policy/rate.ts";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe("parseRate accepts", () => {
  it.each([
    ["10/s", [{ count: 10, periodMs: S }]],
    ["5/2 seconds", [{ count: 5, periodMs: 2 * S }]],
    ["600/minute burst 50", [{ count: 600, periodMs: M, burst: 50 }]],
    [
      "10/s; 1000/day",
      [
        { count: 10, periodMs: S },
        { count: 1000, periodMs: D },
      ],
    ],
    ["1000/h", [{ count: 1000, periodMs: H }]],
    ["5/min", [{ count: 5, periodMs: M }]],
    ["100/30s", [{ count: 100, periodMs: 30 * S }]],
    ["2/500ms", [{ count: 2, periodMs: 500 }]],
    ["  10 /  S  ", [{ count: 10, periodMs: S }]],
    ["10/Sec BURST 20", [{ count: 10, periodMs: S, burst: 20 }]],
    ["1/1 hr", [{ count: 1, periodMs: H }]],
    ["3/2hours", [{ count: 3, periodMs: 2 * H }]],
    ["3/minutes", [{ count: 3, periodMs: M }]],
    ["7/7days", [{ count: 7, periodMs: 7 * D }]],
    ["1/366d", [{ count: 1, periodMs: MAX_PERIOD_MS }]],
    ["1/1ms", [{ count: 1, periodMs: 1 }]],
    [
      "10/s burst 20;1000/h burst 1500",
      [
        { count: 10, periodMs: S, burst: 20 },
        { count: 1000, periodMs: H, burst: 1500 },
      ],
    ],
  ])("%j", (text, rates) => {
    expect(parseRate(text)).toEqual({ ok: true, rates });
  });

  it("leaves burst out when the text does not give one, so the validator can default it", () => {
    const result = parseRate("10/s");
    expect(result.ok && "burst" in (result.rates[0] ?? {})).toBe(false);
  });
});

describe("parseRate rejects", () => {
  const shape = 'expected "<count>/<period>" like "10/s"';
  const count = 'expected a positive integer count before "/" like "10/s"';
  const units =
    "expected a unit (ms, s, sec, second(s), m, min, minute(s), h, hr, hour(s), d, day(s))";
  it.each([
    ["10", "ERR_SLUICE_RATE_SYNTAX", `${shape}, got "10"`],
    ["", "ERR_SLUICE_RATE_SYNTAX", `${shape}, got nothing`],
    ["   ", "ERR_SLUICE_RATE_SYNTAX", `${shape}, got nothing`],
    [
      "10/",
      "ERR_SLUICE_RATE_PERIOD",
      'expected a period like "s", "30s" or "2 minutes" after "/", got nothing',
    ],
    ["/s", "ERR_SLUICE_RATE_COUNT", `${count}, got nothing`],
    ["0/s", "ERR_SLUICE_RATE_COUNT", `${count}, got "0"`],
    ["-1/s", "ERR_SLUICE_RATE_COUNT", `${count}, got "-1"`],
    ["1.5/s", "ERR_SLUICE_RATE_COUNT", `${count}, got "1.5"`],
    ["1e3/s", "ERR_SLUICE_RATE_COUNT", `${count}, got "1e3"`],
    ["+5/s", "ERR_SLUICE_RATE_COUNT", `${count}, got "+5"`],
    [
      "9007199254740992/s",
      "ERR_SLUICE_RATE_COUNT",
      'expected a count of at most 9007199254740991 before "/" like "10/s", got "9007199254740992"',
    ],
    ["10/fortnight", "ERR_SLUICE_RATE_UNIT", `${units}, got "fortnight"`],
    [
      "10/month",
      "ERR_SLUICE_RATE_UNIT",
      `${units}, got "month": months and years vary in length, write days like "30d"`,
    ],
    [
      "10/1y",
      "ERR_SLUICE_RATE_UNIT",
      `${units}, got "y": months and years vary in length, write days like "30d"`,
    ],
    ["10/week", "ERR_SLUICE_RATE_UNIT", `${units}, got "week": write weeks as days like "7d"`],
    ["10/2", "ERR_SLUICE_RATE_UNIT", `${units} after "2", got nothing`],
    [
      "10/0s",
      "ERR_SLUICE_RATE_PERIOD",
      'expected a period longer than 0 and at most 366 days, got "0s"',
    ],
    [
      "10/367 days",
      "ERR_SLUICE_RATE_PERIOD",
      'expected a period longer than 0 and at most 366 days, got "367 days"',
    ],
    [
      "10/1.5s",
      "ERR_SLUICE_RATE_PERIOD",
      'expected a period like "s", "30s" or "2 minutes", got "1.5s"',
    ],
    [
      "10/s/2",
      "ERR_SLUICE_RATE_PERIOD",
      'expected a period like "s", "30s" or "2 minutes", got "s/2"',
    ],
    [
      "10/s burst",
      "ERR_SLUICE_RATE_BURST",
      'expected a positive integer after "burst", got nothing',
    ],
    ["10/s burst 0", "ERR_SLUICE_RATE_BURST", 'expected a positive integer after "burst", got "0"'],
    [
      "10/s burst 2.5",
      "ERR_SLUICE_RATE_BURST",
      'expected a positive integer after "burst", got "2.5"',
    ],
    [
      "10/s burst 5 burst 6",
      "ERR_SLUICE_RATE_BURST",
      'expected at most one "burst <n>" per rate, got a second one in "10/s burst 5 burst 6"',
    ],
    ["10/s;;", "ERR_SLUICE_RATE_SYNTAX", 'expected a rate like "1000/h" after ";", got nothing'],
    ["10/s;", "ERR_SLUICE_RATE_SYNTAX", 'expected a rate like "1000/h" after ";", got nothing'],
    [";10/s", "ERR_SLUICE_RATE_SYNTAX", 'expected a rate like "1000/h" before ";", got nothing'],
    [
      "10/s per user",
      "ERR_SLUICE_RATE_SYNTAX",
      'expected "burst <n>", ";" or the end after "10/s", got "per user"',
    ],
    [
      "10/s burst 5 x",
      "ERR_SLUICE_RATE_SYNTAX",
      'expected "burst <n>", ";" or the end after "10/s burst 5", got "x"',
    ],
    [
      "10/s burst20",
      "ERR_SLUICE_RATE_SYNTAX",
      'expected "burst <n>", ";" or the end after "10/s", got "burst20"',
    ],
    ["10/s; 1000", "ERR_SLUICE_RATE_SYNTAX", `${shape}, got "1000"`],
  ])("%j", (text, code, message) => {
    expect(parseRate(text)).toEqual({ ok: false, error: { code, message } });
  });

  it("shortens a very long offending value so one field cannot flood a log line", () => {
    const result = parseRate("x".repeat(500));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toBe(`${shape}, got "${"x".repeat(57)}..."`);
  });
});

describe("parsePeriod (object form)", () => {
  it.each([
    ["1s", S],
    ["2 minutes", 2 * M],
    ["hour", H],
    [" 30 S ", 30 * S],
  ])("%j → %d ms", (text, ms) => {
    expect(parsePeriod(text)).toEqual({ ok: true, periodMs: ms });
  });

  it("rejects leftovers after the period", () => {
    expect(parsePeriod("1s burst 5")).toEqual({
      ok: false,
      error: {
        code: "ERR_SLUICE_RATE_PERIOD",
        message: 'expected a period like "s", "30s" or "2 minutes", got "1s burst 5"',
      },
    });
  });

  it("rejects an empty period", () => {
    expect(parsePeriod("")).toEqual({
      ok: false,
      error: {
        code: "ERR_SLUICE_RATE_PERIOD",
        message: 'expected a period like "s", "30s" or "2 minutes", got nothing',
      },
    });
  });
});

describe("checkPeriodMs", () => {
  it("accepts whole milliseconds up to 366 days", () => {
    expect(checkPeriodMs(1)).toEqual({ ok: true, periodMs: 1 });
    expect(checkPeriodMs(MAX_PERIOD_MS)).toEqual({ ok: true, periodMs: MAX_PERIOD_MS });
  });

  it.each([0, -5, 1.5, MAX_PERIOD_MS + 1, Number.NaN])("rejects %d", (ms) => {
    const result = checkPeriodMs(ms);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe("ERR_SLUICE_RATE_PERIOD");
      expect(result.error.message).toBe(
        `expected a whole number of milliseconds from 1 to 31622400000 (366 days), got ${ms}`,
      );
    }
  });
});

describe("formatPeriod names a period in its largest whole unit", () => {
  it.each([
    [S, "1s"],
    [2 * S, "2s"],
    [M, "1m"],
    [90 * S, "90s"],
    [H, "1h"],
    [D, "1d"],
    [36 * H, "36h"],
    [500, "500ms"],
    [1500, "1500ms"],
  ])("%d ms → %s", (ms, text) => {
    expect(formatPeriod(ms)).toBe(text);
  });
});

describe("positiveInt", () => {
  it("reads plain decimal digits only", () => {
    expect(positiveInt("20")).toBe(20);
    expect(positiveInt("007")).toBe(7);
    for (const bad of ["0", "", "-1", "1.0", "1e3", "0x10", " 1", "9007199254740992"]) {
      expect(positiveInt(bad), bad).toBeUndefined();
    }
  });
});
