/** @module policy/duration — reading duration fields ("2s", "10m", or ms). */
import { checkPeriodMs, parsePeriod } from "./rate.ts";
import { add, join, type Obj, type Report, typeError } from "./read.ts";

/**
 * A duration field as ms: a period string like "10m" or "500ms", or a number
 * of milliseconds. `fallback` stands in when the field is absent; without
 * one the field is required. Reports and returns 0 when it cannot be read.
 *
 * @example
 * readDuration(report, { maxDelay: "2s" }, "rules[0]", "maxDelay", "1s"); // → 2000
 */
export function readDuration(
  report: Report,
  obj: Obj,
  parent: string,
  key: string,
  fallback: string | undefined,
): number {
  const path = join(parent, key);
  const value = obj[key] ?? fallback;
  if (value === undefined) {
    add(report.issues, "ERR_SLUICE_REQUIRED", path, `expected "${key}", a duration like "10m"`);
    return 0;
  }
  if (typeof value !== "string" && typeof value !== "number") {
    typeError(report, path, 'a duration like "10m" or a number of milliseconds', value);
    return 0;
  }
  const period = typeof value === "string" ? parsePeriod(value) : checkPeriodMs(value);
  if (period.ok) return period.periodMs;
  add(report.issues, period.error.code, path, period.error.message);
  return 0;
}
