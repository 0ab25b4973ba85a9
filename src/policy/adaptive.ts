/** @module policy/adaptive — a rule's adaptive controller: fractions to parts per million, durations to ms, defaults from the controller. */

import { type AdaptiveConfig, defaultAdaptiveConfig, FULL_PPM } from "../limiter/adaptive.ts";
import { readDuration } from "./duration.ts";
import type { RawAdaptive } from "./raw.ts";
import {
  add,
  join,
  keysOf,
  type Obj,
  type Report,
  readInt,
  readOptionalObject,
  typeError,
} from "./read.ts";

const FIELDS = keysOf<RawAdaptive>({
  latency: true,
  min: true,
  decrease: true,
  increase: true,
  window: true,
  minRequests: true,
  hold: true,
  errorLow: true,
  errorHigh: true,
  slowLow: true,
  slowHigh: true,
  maxPause: true,
});

const MINUTE = 60_000;

/**
 * `rules[].adaptive` as the controller's integer settings; null when absent.
 * Bounds keep the controller sane: the factor's floor above 0, a decrease
 * that decreases, a window at most a minute, a pause at most a day.
 *
 * @example
 * readAdaptive(report, { latency: "500ms", min: 0.2 }, "rules[0].adaptive");
 * // → { ...defaultAdaptiveConfig, latencyMs: 500, minPpm: 200000 }
 */
export function readAdaptive(report: Report, value: unknown, path: string): AdaptiveConfig | null {
  const obj = readOptionalObject(report, value, path, FIELDS);
  if (obj === undefined) return null;
  const d = defaultAdaptiveConfig;
  const config: AdaptiveConfig = {
    latencyMs: duration(report, obj, path, "latency", d.latencyMs, 10 * MINUTE, "10 min"),
    minPpm: share(report, obj, path, "min", d.minPpm, { above: 0 }),
    decreasePpm: share(report, obj, path, "decrease", d.decreasePpm, { above: 0, below: 1 }),
    increasePpm: share(report, obj, path, "increase", d.increasePpm, { above: 0 }),
    windowMs: duration(report, obj, path, "window", d.windowMs, MINUTE, "1 min"),
    minRequests: readInt(report, obj, path, "minRequests", 1, 1_000_000, d.minRequests),
    holdMs: duration(report, obj, path, "hold", d.holdMs, 10 * MINUTE, "10 min"),
    errorLowPpm: share(report, obj, path, "errorLow", d.errorLowPpm),
    errorHighPpm: share(report, obj, path, "errorHigh", d.errorHighPpm),
    slowLowPpm: share(report, obj, path, "slowLow", d.slowLowPpm),
    slowHighPpm: share(report, obj, path, "slowHigh", d.slowHighPpm),
    maxPauseMs: duration(report, obj, path, "maxPause", d.maxPauseMs, 24 * 60 * MINUTE, "1 day"),
  };
  band(report, path, "error", config.errorLowPpm, config.errorHighPpm);
  band(report, path, "slow", config.slowLowPpm, config.slowHighPpm);
  return config;
}

function duration(
  report: Report,
  obj: Obj,
  parent: string,
  key: string,
  fallbackMs: number,
  maxMs: number,
  maxText: string,
): number {
  if (obj[key] === undefined) return fallbackMs;
  const ms = readDuration(report, obj, parent, key, undefined);
  if (ms > maxMs) {
    const at = join(parent, key);
    add(report.issues, "ERR_SLUICE_RANGE", at, `expected at most ${maxText}, got ${ms} ms`);
  }
  return ms;
}

/**
 * A fraction from 0 to 1 (bounds exclusive where `above`/`below` say) as
 * parts per million, which must not round to a bound it may not reach.
 */
function share(
  report: Report,
  obj: Obj,
  parent: string,
  key: string,
  fallbackPpm: number,
  open: { above?: 0; below?: 1 } = {},
): number {
  const value = obj[key];
  if (value === undefined) return fallbackPpm;
  const path = join(parent, key);
  const range =
    open.below === 1
      ? "strictly between 0 and 1"
      : open.above === 0
        ? "above 0 and at most 1"
        : "from 0 to 1";
  if (typeof value !== "number" || !Number.isFinite(value)) {
    typeError(report, path, `a number ${range}, like 0.05`, value);
    return fallbackPpm;
  }
  const ppm = Math.round(value * FULL_PPM);
  const low = open.above === 0 ? 1 : 0;
  const high = open.below === 1 ? FULL_PPM - 1 : FULL_PPM;
  if (ppm < low || ppm > high) {
    add(
      report.issues,
      "ERR_SLUICE_RANGE",
      path,
      `expected a number ${range} (to 6 decimals), got ${value}`,
    );
    return fallbackPpm;
  }
  return ppm;
}

function band(report: Report, path: string, what: string, lowPpm: number, highPpm: number): void {
  if (lowPpm <= highPpm) return;
  add(
    report.issues,
    "ERR_SLUICE_ADAPTIVE_BAND",
    `${path}.${what}Low`,
    `${what}Low (${lowPpm / FULL_PPM}) must not be above ${what}High (${highPpm / FULL_PPM}): below the low share the origin is healthy, above the high one overloaded`,
  );
}
