/** @module policy/rate — parses rate notation such as "10/s burst 20; 1000/h" into integer counts and periods. */
import { describe } from "./read.ts";

/** One rate read from the notation. */
export interface ParsedRate {
  /** Positive safe integer. */
  count: number;
  /** Integer milliseconds, 1 ms … 366 days. */
  periodMs: number;
  /** Present only when the text said `burst N`; the validator applies the default (the count). */
  burst?: number;
}

/** One code per kind of mistake in a rate. */
export type RateErrorCode =
  | "ERR_SLUICE_RATE_SYNTAX"
  | "ERR_SLUICE_RATE_COUNT"
  | "ERR_SLUICE_RATE_PERIOD"
  | "ERR_SLUICE_RATE_UNIT"
  | "ERR_SLUICE_RATE_BURST";

/** Why a rate was rejected; `message` says what was expected and what was found. */
export interface RateError {
  code: RateErrorCode;
  message: string;
}

/** Outcome of {@link parseRate}. */
export type RateResult = { ok: true; rates: ParsedRate[] } | { ok: false; error: RateError };

/** Outcome of {@link parsePeriod}. */
export type PeriodResult = { ok: true; periodMs: number } | { ok: false; error: RateError };

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Longest accepted period. Months and years are refused because they are not fixed-length;
 * 366 days still allows "per year" quotas written as days.
 *
 * @example
 * MAX_PERIOD_MS === 31_622_400_000;
 */
export const MAX_PERIOD_MS = 366 * DAY;

const UNITS = new Map<string, number>([
  ["ms", 1],
  ["s", SECOND],
  ["sec", SECOND],
  ["second", SECOND],
  ["seconds", SECOND],
  ["m", MINUTE],
  ["min", MINUTE],
  ["minute", MINUTE],
  ["minutes", MINUTE],
  ["h", HOUR],
  ["hr", HOUR],
  ["hour", HOUR],
  ["hours", HOUR],
  ["d", DAY],
  ["day", DAY],
  ["days", DAY],
]);

const UNIT_LIST = "ms, s, sec, second(s), m, min, minute(s), h, hr, hour(s), d, day(s)";
const VARIABLE_UNITS = /^(mo|mos|mon|month|months|y|yr|yrs|year|years)$/;
const WEEK_UNITS = /^(w|wk|wks|week|weeks)$/;

const RATE_SHAPE = 'expected "<count>/<period>" like "10/s"';
const PERIOD_SHAPE = 'expected a period like "s", "30s" or "2 minutes"';

/** Largest-first, so `formatPeriod` picks the largest whole unit. */
const FORMAT_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["d", DAY],
  ["h", HOUR],
  ["m", MINUTE],
  ["s", SECOND],
];

/**
 * Parses rate notation: `<count>/<period>` with an optional `burst <n>`, several rates joined by `;`.
 * Periods are `<unit>`, `<n><unit>` or `<n> <unit>`; units are case-insensitive. Nothing is guessed:
 * any malformed part is an error naming what was expected.
 *
 * @example
 * parseRate("10/s burst 20; 1000/h");
 * // → { ok: true, rates: [{ count: 10, periodMs: 1000, burst: 20 }, { count: 1000, periodMs: 3600000 }] }
 * parseRate("10");
 * // → { ok: false, error: { code: "ERR_SLUICE_RATE_SYNTAX", message: 'expected "<count>/<period>" like "10/s", got "10"' } }
 */
export function parseRate(text: string): RateResult {
  if (text.trim() === "") return fail("ERR_SLUICE_RATE_SYNTAX", `${RATE_SHAPE}, got nothing`);
  const parts = text.split(";");
  const rates: ParsedRate[] = [];
  for (const [index, part] of parts.entries()) {
    if (part.trim() === "") {
      const where = index === 0 ? 'before ";"' : 'after ";"';
      return fail("ERR_SLUICE_RATE_SYNTAX", `expected a rate like "1000/h" ${where}, got nothing`);
    }
    const one = parseOne(part.trim());
    if ("code" in one) return { ok: false, error: one };
    rates.push(one);
  }
  return { ok: true, rates };
}

/**
 * Parses a period on its own (`"s"`, `"30s"`, `"2 minutes"`), as used by the object form of a rate.
 *
 * @example
 * parsePeriod("2 minutes"); // → { ok: true, periodMs: 120000 }
 */
export function parsePeriod(text: string): PeriodResult {
  const words = splitWords(text);
  const period = readPeriod(words);
  if ("code" in period) return { ok: false, error: period };
  if (period.used < words.length) {
    return fail("ERR_SLUICE_RATE_PERIOD", `${PERIOD_SHAPE}, got ${got(text.trim())}`);
  }
  return { ok: true, periodMs: period.ms };
}

/**
 * Checks a period given as a number of milliseconds (object form).
 *
 * @example
 * checkPeriodMs(60000); // → { ok: true, periodMs: 60000 }
 */
export function checkPeriodMs(ms: number): PeriodResult {
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms > MAX_PERIOD_MS) {
    return fail(
      "ERR_SLUICE_RATE_PERIOD",
      `expected a whole number of milliseconds from 1 to ${MAX_PERIOD_MS} (366 days), got ${ms}`,
    );
  }
  return { ok: true, periodMs: ms };
}

/**
 * Writes a period in its largest whole unit; used for default limit ids, so it must stay stable.
 *
 * @example
 * formatPeriod(60000); // → "1m"
 * formatPeriod(90000); // → "90s"
 * formatPeriod(500);   // → "500ms"
 */
export function formatPeriod(ms: number): string {
  for (const [unit, size] of FORMAT_UNITS) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * Reads a positive safe integer written as plain decimal digits (no sign, dot or exponent).
 *
 * @example
 * positiveInt("20"); // → 20
 * positiveInt("1e3"); // → undefined
 */
export function positiveInt(text: string): number | undefined {
  const n = digits(text);
  return n !== undefined && n > 0 ? n : undefined;
}

function digits(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseOne(text: string): ParsedRate | RateError {
  const slash = text.indexOf("/");
  if (slash < 0) return error("ERR_SLUICE_RATE_SYNTAX", `${RATE_SHAPE}, got ${got(text)}`);
  const countText = text.slice(0, slash).trim();
  const count = positiveInt(countText);
  if (count === undefined) {
    const expected = /^0*[1-9]\d*$/.test(countText)
      ? `a count of at most ${Number.MAX_SAFE_INTEGER}`
      : "a positive integer count";
    return error(
      "ERR_SLUICE_RATE_COUNT",
      `expected ${expected} before "/" like "10/s", got ${got(countText)}`,
    );
  }
  const words = splitWords(text.slice(slash + 1));
  if (words.length === 0) {
    return error("ERR_SLUICE_RATE_PERIOD", `${PERIOD_SHAPE} after "/", got nothing`);
  }
  const period = readPeriod(words);
  if ("code" in period) return period;

  let burst: number | undefined;
  let i = period.used;
  while (i < words.length) {
    const word = words[i] ?? "";
    if (word.toLowerCase() !== "burst") {
      const read = `${countText}/${words.slice(0, i).join(" ")}`;
      return error(
        "ERR_SLUICE_RATE_SYNTAX",
        `expected "burst <n>", ";" or the end after ${got(read)}, got ${got(words.slice(i).join(" "))}`,
      );
    }
    if (burst !== undefined) {
      return error(
        "ERR_SLUICE_RATE_BURST",
        `expected at most one "burst <n>" per rate, got a second one in ${got(text)}`,
      );
    }
    const value = words[i + 1];
    burst = value === undefined ? undefined : positiveInt(value);
    if (burst === undefined) {
      return error(
        "ERR_SLUICE_RATE_BURST",
        `expected a positive integer after "burst", got ${got(value)}`,
      );
    }
    i += 2;
  }
  return burst === undefined
    ? { count, periodMs: period.ms }
    : { count, periodMs: period.ms, burst };
}

/** Reads `<unit>`, `<n><unit>` or `<n> <unit>` from the front of `words`. */
function readPeriod(words: string[]): { ms: number; used: number } | RateError {
  const first = words[0];
  if (first === undefined) return error("ERR_SLUICE_RATE_PERIOD", `${PERIOD_SHAPE}, got nothing`);
  let amountText = "1";
  let unit: string | undefined;
  let used: number;
  const joined = /^(\d*)([a-z]+)$/i.exec(first);
  if (joined) {
    amountText = joined[1] || "1";
    unit = joined[2];
    used = 1;
  } else if (/^\d+$/.test(first)) {
    amountText = first;
    unit = words[1];
    used = 2;
    if (unit === undefined) {
      return error(
        "ERR_SLUICE_RATE_UNIT",
        `expected a unit (${UNIT_LIST}) after "${first}", got nothing`,
      );
    }
  } else {
    return error("ERR_SLUICE_RATE_PERIOD", `${PERIOD_SHAPE}, got ${got(first)}`);
  }
  const lower = (unit ?? "").toLowerCase();
  const size = UNITS.get(lower);
  if (size === undefined) return error("ERR_SLUICE_RATE_UNIT", unknownUnit(unit ?? ""));
  const amount = digits(amountText);
  const ms = amount === undefined ? undefined : amount * size;
  if (ms === undefined || ms <= 0 || ms > MAX_PERIOD_MS) {
    return error(
      "ERR_SLUICE_RATE_PERIOD",
      `expected a period longer than 0 and at most 366 days, got ${got(words.slice(0, used).join(" "))}`,
    );
  }
  return { ms, used };
}

function unknownUnit(unit: string): string {
  const lower = unit.toLowerCase();
  const base = `expected a unit (${UNIT_LIST}), got ${got(unit)}`;
  // Months and years vary in length, so a limiter cannot turn them into milliseconds honestly.
  if (VARIABLE_UNITS.test(lower))
    return `${base}: months and years vary in length, write days like "30d"`;
  if (WEEK_UNITS.test(lower)) return `${base}: write weeks as days like "7d"`;
  return base;
}

function splitWords(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== "");
}

/** Quotes what the user wrote as every policy message does; an empty part reads as "nothing". */
function got(text: string | undefined): string {
  return text === "" ? "nothing" : describe(text);
}

function error(code: RateErrorCode, message: string): RateError {
  return { code, message };
}

function fail(code: RateErrorCode, message: string): { ok: false; error: RateError } {
  return { ok: false, error: { code, message } };
}
