/** @module cli/values — reading option values that are more than text: expiries and counts. */
import { UsageError } from "./errors.ts";

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * An expiry as an ISO time: either ISO 8601 itself or a duration from now
 * (`30d`, `12h`, `90m`). `flag` names the option in the error.
 *
 * @example
 * expiryFrom("30d", Date.parse("2026-11-22T00:00:00Z")); // → "2026-12-22T00:00:00.000Z"
 */
export function expiryFrom(text: string, nowMs: number, flag = "--expires"): string {
  const duration = /^(\d+)(m|h|d)$/.exec(text);
  if (duration) {
    const unit = UNIT_MS[duration[2] as keyof typeof UNIT_MS];
    return new Date(nowMs + Number(duration[1]) * unit).toISOString();
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new UsageError(
      `${flag}: expected a time like 2026-12-31T00:00:00Z or a duration like 30d, 12h, 90m; got ${JSON.stringify(text)}`,
      { flag },
    );
  }
  return new Date(ms).toISOString();
}

/**
 * A whole number from 1 to `max`, as the admin API accepts it.
 *
 * @example
 * wholeNumber("50", "--limit", 10_000); // → 50
 */
export function wholeNumber(text: string, flag: string, max: number): number {
  const n = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= max)) {
    throw new UsageError(
      `${flag}: expected a whole number from 1 to ${max}, got ${JSON.stringify(text)}`,
      {
        flag,
      },
    );
  }
  return n;
}
