/** @module policy/alerts — the policy's `alerts` section: thresholds that raise one `sluice.alert` per episode. */
import { readDuration } from "./duration.ts";
import type { RawAlerts, RawDenialAlert, RawQuotaAlert, RawStoreAlert } from "./raw.ts";
import {
  add,
  describe,
  join,
  keysOf,
  type Obj,
  type Report,
  readInt,
  readOptionalObject,
  typeError,
} from "./read.ts";
import type { AlertsConfig } from "./types.ts";

const ALERTS_FIELDS = keysOf<RawAlerts>({ quota: true, denials: true, storeDegraded: true });
const QUOTA_FIELDS = keysOf<RawQuotaAlert>({ above: true });
const DENIAL_FIELDS = keysOf<RawDenialAlert>({ above: true, within: true, minRequests: true });
const STORE_FIELDS = keysOf<RawStoreAlert>({ for: true });

/** Longest alert window or degraded time: an alert about the last day is a report, not an alert. */
const MAX_ALERT_MS = 3_600_000;

/**
 * The `alerts` section, defaulted; undefined when the policy has none (then
 * the hash is what it was before alerts existed).
 *
 * @example
 * readAlerts(report, { alerts: { quota: { above: 0.8 } } });
 * // → { quota: { above: 0.8 }, denials: null, storeDegraded: null }
 */
export function readAlerts(report: Report, root: Obj): AlertsConfig | undefined {
  const obj = readOptionalObject(report, root.alerts, "alerts", ALERTS_FIELDS);
  if (!obj) return undefined;
  const quotaObj = readOptionalObject(report, obj.quota, "alerts.quota", QUOTA_FIELDS);
  const denialObj = readOptionalObject(report, obj.denials, "alerts.denials", DENIAL_FIELDS);
  const storeObj = readOptionalObject(
    report,
    obj.storeDegraded,
    "alerts.storeDegraded",
    STORE_FIELDS,
  );
  return {
    quota: quotaObj ? { above: readFraction(report, quotaObj, "alerts.quota") } : null,
    denials: denialObj
      ? {
          above: readFraction(report, denialObj, "alerts.denials"),
          withinMs: readWindow(report, denialObj, "alerts.denials", "within", "1m"),
          minRequests: readInt(
            report,
            denialObj,
            "alerts.denials",
            "minRequests",
            1,
            1_000_000,
            20,
          ),
        }
      : null,
    storeDegraded: storeObj
      ? { forMs: readWindow(report, storeObj, "alerts.storeDegraded", "for", undefined) }
      : null,
  };
}

/** `above`: a share above 0 and at most 1 (0.8 is 80 %). */
function readFraction(report: Report, obj: Obj, parent: string): number {
  const path = join(parent, "above");
  const value = obj.above;
  if (value === undefined) {
    add(report.issues, "ERR_SLUICE_REQUIRED", path, 'expected "above", a share like 0.8');
    return 1;
  }
  if (typeof value !== "number") {
    typeError(report, path, "a number above 0 and at most 1, like 0.8", value);
    return 1;
  }
  if (!(value > 0 && value <= 1)) {
    add(
      report.issues,
      "ERR_SLUICE_ALERT_FRACTION",
      path,
      `expected a share above 0 and at most 1 (0.8 is 80 %), got ${describe(value)}`,
    );
    return 1;
  }
  return value;
}

/** A duration of at most an hour. */
function readWindow(
  report: Report,
  obj: Obj,
  parent: string,
  key: string,
  fallback: string | undefined,
): number {
  const ms = readDuration(report, obj, parent, key, fallback);
  if (ms > MAX_ALERT_MS) {
    add(
      report.issues,
      "ERR_SLUICE_ALERT_DURATION",
      join(parent, key),
      `expected at most 1h (alerts watch the last minutes, not days), got ${describe(obj[key])}`,
    );
  }
  return ms;
}
