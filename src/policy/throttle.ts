/** @module policy/throttle — a rule's throttling fields: delay instead of refusing, and its concurrency cap. */

import { readDuration } from "./duration.ts";
import { readSubject } from "./limits.ts";
import type { RawConcurrency } from "./raw.ts";
import {
  add,
  keysOf,
  type Obj,
  type Report,
  readEnum,
  readInt,
  readOptionalObject,
} from "./read.ts";
import type { Limit, Rule } from "./types.ts";

/** Without `maxDelay`, a delaying rule holds a request at most this long. */
export const DEFAULT_MAX_DELAY = "1s";
/** The longest a request may be held: a Worker should answer well within its own limits. */
const MAX_DELAY_MS = 60_000;

/** The algorithms that can reserve a future slot, and so delay. */
const DELAYS: ReadonlySet<Limit["algorithm"]> = new Set(["gcra", "token-bucket"]);

const CONCURRENCY_FIELDS = keysOf<RawConcurrency>({ max: true, by: true });

/**
 * `action`, `maxDelay` and `concurrency` of a rule, defaulted: reject, no
 * delay, no cap.
 *
 * @example
 * readThrottle(report, { action: "delay", maxDelay: "2s" }, "rules[0]", limits);
 * // → { action: "delay", maxDelayMs: 2000, concurrency: null }
 */
export function readThrottle(
  report: Report,
  obj: Obj,
  path: string,
  limits: readonly Limit[],
): Pick<Rule, "action" | "maxDelayMs" | "concurrency"> {
  const action = readEnum(report, obj, path, "action", ["reject", "delay"] as const, "reject");
  let maxDelayMs = 0;
  if (action === "delay") {
    maxDelayMs = readDuration(report, obj, path, "maxDelay", DEFAULT_MAX_DELAY);
    if (maxDelayMs > MAX_DELAY_MS) {
      add(
        report.issues,
        "ERR_SLUICE_RANGE",
        `${path}.maxDelay`,
        `expected at most 60 s (a held request keeps its connection open), got ${maxDelayMs} ms`,
      );
    }
    limits.forEach((l, i) => {
      if (DELAYS.has(l.algorithm)) return;
      add(
        report.issues,
        "ERR_SLUICE_DELAY_ALGORITHM",
        `${path}.limits[${i}].algorithm`,
        `a rule with "action": "delay" can only hold requests for gcra and token-bucket limits, which reserve a future slot; this one is ${l.algorithm}`,
      );
    });
  } else if (obj.maxDelay !== undefined) {
    add(
      report.issues,
      "ERR_SLUICE_DELAY_WITHOUT_ACTION",
      `${path}.maxDelay`,
      'maxDelay only applies with "action": "delay"; add it, or remove maxDelay',
    );
  }
  return { action, maxDelayMs, concurrency: readConcurrency(report, obj.concurrency, path) };
}

function readConcurrency(report: Report, value: unknown, parent: string): Rule["concurrency"] {
  const path = `${parent}.concurrency`;
  const obj = readOptionalObject(report, value, path, CONCURRENCY_FIELDS);
  if (obj === undefined) return null;
  if (obj.max === undefined) {
    add(
      report.issues,
      "ERR_SLUICE_REQUIRED",
      `${path}.max`,
      'expected "max", the requests in flight at most, like 10',
    );
    return null;
  }
  const max = readInt(report, obj, path, "max", 1, 100_000, 1);
  return { max, by: readSubject(report, obj.by, `${path}.by`) };
}
