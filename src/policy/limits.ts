/** @module policy/limits — reads a rule's limits: rate notation, subject, burst and cost rules, limit ids. */

import type { IssueCode } from "./codes.ts";
import { capacity, checkPrecision, takesBurst } from "./fit.ts";
import { checkPeriodMs, formatPeriod, type ParsedRate, parsePeriod, parseRate } from "./rate.ts";
import type { RawLimit, RawRateObject } from "./raw.ts";
import {
  add,
  describe,
  headerMessage,
  isObject,
  isPositiveInt,
  join,
  keysOf,
  type Obj,
  type Report,
  readEnum,
  readInt,
  readList,
  readObject,
  readOptionalInt,
  readOptionalString,
  suggest,
  TOKEN,
  typeError,
} from "./read.ts";
import type { Algorithm, Limit, Rate, Subject } from "./types.ts";

// Keyed by Algorithm so that a new algorithm cannot be left out of validation.
const ALGORITHM_NAMES: Record<Algorithm, true> = {
  gcra: true,
  "token-bucket": true,
  "fixed-window": true,
  "sliding-window": true,
  "sliding-log": true,
};
const ALGORITHMS = Object.keys(ALGORITHM_NAMES) as Algorithm[];
const LIMIT_FIELDS = keysOf<RawLimit>({
  rate: true,
  by: true,
  algorithm: true,
  burst: true,
  cost: true,
  name: true,
  shared: true,
});
const RATE_OBJECT_FIELDS = keysOf<RawRateObject>({ count: true, period: true, burst: true });
/** Shared limit names: they stand in for the rule name in store keys (as `~<name>`). */
export const SHARED_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** RFC 9651 §3.1.2 key (unchanged from RFC 8941): the limit id names an item of the RateLimit / RateLimit-Policy fields. */
export const SF_KEY = /^[a-z*][a-z0-9_.*-]*$/;

/**
 * Reads `rules[i].limits`, expanding multi-rate strings into several limits and checking that ids
 * are unique within the rule.
 *
 * @example
 * readLimits(report, { limits: [{ rate: "10/s; 1000/h", by: "apiKey" }] }, "rules[0]");
 * // → limits "apikey-1s" and "apikey-1h"
 */
export function readLimits(report: Report, rule: Obj, rulePath: string, idPrefix = ""): Limit[] {
  const list = readList(report, rule, rulePath, "limits", "limit");
  const limits: Limit[] = [];
  // id → where it was first defined, to point duplicate ids at each other.
  const seen = new Map<string, string>();
  for (const [i, value] of list.entries()) {
    const path = `${join(rulePath, "limits")}[${i}]`;
    for (const { limit, idPath } of readLimit(report, value, path, idPrefix)) {
      const first = seen.get(limit.id);
      if (first === undefined) {
        seen.set(limit.id, path);
      } else if (first === path) {
        add(
          report.issues,
          "ERR_SLUICE_LIMIT_ID_DUPLICATE",
          idPath,
          `two rates of this string get the same id ${describe(limit.id)} (ids are "<by>-<period>"); split them into limits with their own "name"`,
        );
      } else {
        add(
          report.issues,
          "ERR_SLUICE_LIMIT_ID_DUPLICATE",
          idPath,
          `limit id ${describe(limit.id)} is already used by ${first}; set "name" to tell them apart`,
        );
      }
      limits.push(limit);
    }
  }
  return limits;
}

/** A rate with where its burst came from, so burst errors point at the right field. */
interface RateSource extends ParsedRate {
  burstPath?: string;
}

/** One limit read, with the path its id came from (for duplicate-id messages). */
interface LimitEntry {
  limit: Limit;
  idPath: string;
}

/** A limit's fields as written, before its rates become limits. */
interface LimitFields {
  /** `rate: "plan"`: the rates come from the tenant's plan at request time (see policy/tenants.ts). */
  fromPlan: boolean;
  rates: RateSource[];
  by: Subject;
  algorithm: Algorithm;
  /** The limit-level `burst`, which applies to a single rate. */
  burst: number | undefined;
  cost: number;
  name: string | undefined;
  shared: string | null;
  /** Starts default ids (`app.` for application-wide limits), so they never meet a rule's. */
  idPrefix?: string;
}

function readLimit(report: Report, value: unknown, path: string, idPrefix: string): LimitEntry[] {
  const obj = readObject(report, value, path, LIMIT_FIELDS, 'an object like {"rate": "10/s"}');
  if (obj === undefined) return [];
  const before = report.issues.length;
  const fields = { ...readLimitFields(report, obj, path), idPrefix };
  placeBurstAndName(report, fields, path);
  if (report.issues.length > before) return [];
  if (fields.fromPlan) return [planLimit(fields, path)];
  return fields.rates.flatMap((rate) => rateLimit(report, fields, rate, path) ?? []);
}

function readLimitFields(report: Report, obj: Obj, path: string): LimitFields {
  const fromPlan = obj.rate === "plan";
  const rates = fromPlan ? [] : readRateValue(report, obj.rate, `${path}.rate`);
  const by = readSubject(report, obj.by, `${path}.by`);
  const algorithm = readEnum<Algorithm>(report, obj, path, "algorithm", ALGORITHMS, "gcra");
  const burst = readOptionalInt(report, obj, path, "burst", 1, Number.MAX_SAFE_INTEGER);
  const cost = readInt(report, obj, path, "cost", 1, Number.MAX_SAFE_INTEGER, 1);
  const name = readOptionalString(report, obj, path, "name");
  if (name !== undefined && name !== "" && !SF_KEY.test(name)) {
    add(
      report.issues,
      "ERR_SLUICE_LIMIT_NAME_SYNTAX",
      `${path}.name`,
      `expected an RFC 9651 key (a lower-case letter or "*", then a-z, 0-9, "_", "-", ".", "*") because it names the RateLimit header item, got ${describe(name)}`,
    );
  }
  const shared = readOptionalString(report, obj, path, "shared") ?? null;
  if (shared && !SHARED_NAME.test(shared)) {
    add(
      report.issues,
      "ERR_SLUICE_SHARED_NAME_SYNTAX",
      `${path}.shared`,
      `expected 1–64 lower-case letters, digits, "_" or "-" (it names the shared bucket in store keys), got ${describe(shared)}`,
    );
  }
  return { fromPlan, rates, by, algorithm, burst, cost, name, shared };
}

/**
 * The limit-level `burst` and `name` each describe one rate: checks they have exactly one to go
 * to, and moves the burst onto it.
 */
function placeBurstAndName(report: Report, fields: LimitFields, path: string): void {
  const { rates, burst, name } = fields;
  if (burst !== undefined && rates.length > 0) {
    const inline = rates.find((r) => r.burst !== undefined);
    if (rates.length > 1) {
      add(
        report.issues,
        "ERR_SLUICE_BURST_CONFLICT",
        `${path}.burst`,
        `"burst" applies to one rate but "rate" has ${rates.length}; write it inside the rate string instead, like "10/s burst 20; 1000/h"`,
      );
    } else if (inline?.burst !== undefined) {
      add(
        report.issues,
        "ERR_SLUICE_BURST_CONFLICT",
        `${path}.burst`,
        `burst is set both here (${burst}) and in "rate" (${inline.burst}); keep one`,
      );
    } else {
      for (const r of rates) {
        r.burst = burst;
        r.burstPath = `${path}.burst`;
      }
    }
  }
  if (name !== undefined && rates.length > 1) {
    add(
      report.issues,
      "ERR_SLUICE_LIMIT_ID_DUPLICATE",
      `${path}.name`,
      `"name" would name all ${rates.length} rates of "rate" alike; split them into limits, each with its own "name"`,
    );
  }
  if (fields.fromPlan && burst !== undefined) {
    add(
      report.issues,
      "ERR_SLUICE_BURST_CONFLICT",
      `${path}.burst`,
      'a limit with rate "plan" takes its bursts from the plans; write them there, like "50/s burst 100"',
    );
  }
}

/** A `rate: "plan"` limit: its rates are filled in per tenant, so count, period and burst are 0. */
function planLimit(fields: LimitFields, path: string): LimitEntry {
  const { name, by, cost, algorithm, shared } = fields;
  const id = name ?? `${fields.idPrefix ?? ""}${subjectId(by)}`;
  const limit: Limit = {
    id,
    count: 0,
    periodMs: 0,
    burst: 0,
    cost,
    algorithm,
    by,
    fromPlan: true,
    shared,
  };
  return { limit, idPath: name === undefined ? `${path}.rate` : `${path}.name` };
}

/** One rate of the limit as a limit: its id, and whether its burst and cost fit its algorithm. */
function rateLimit(
  report: Report,
  fields: LimitFields,
  r: RateSource,
  path: string,
): LimitEntry | undefined {
  const { name, by, cost, algorithm } = fields;
  const id = name ?? `${fields.idPrefix ?? ""}${subjectId(by)}-${formatPeriod(r.periodMs)}`;
  if (name === undefined && !SF_KEY.test(id)) {
    add(
      report.issues,
      "ERR_SLUICE_LIMIT_NAME_SYNTAX",
      `${path}.by`,
      `the default id ${describe(id)} is not an RFC 9651 key; set "name" like "per-user"`,
    );
    return undefined;
  }
  let burst = r.burst ?? r.count;
  if (!takesBurst(algorithm) && burst !== r.count) {
    add(
      report.issues,
      "ERR_SLUICE_BURST_UNSUPPORTED",
      r.burstPath ?? `${path}.rate`,
      `${algorithm} has no burst (its count is both the rate and the most admitted at once), but burst ${burst} differs from count ${r.count}; remove the burst or use "gcra" or "token-bucket"`,
    );
    burst = r.count;
  }
  const rate: Rate = { count: r.count, periodMs: r.periodMs, burst };
  const { what, room } = capacity(algorithm, rate);
  if (cost > room) {
    add(
      report.issues,
      "ERR_SLUICE_COST_EXCEEDS_BURST",
      `${path}.cost`,
      `cost ${cost} is larger than ${what} ${room} of limit ${describe(id)}, so no request could ever be admitted; raise the ${what} or lower the cost`,
    );
  }
  const imprecise = checkPrecision(algorithm, rate);
  if (imprecise !== undefined) {
    const precisionPath = algorithm === "token-bucket" ? r.burstPath : undefined;
    add(report.issues, "ERR_SLUICE_RATE_PRECISION", precisionPath ?? `${path}.rate`, imprecise);
  }
  warnLogSize(report, algorithm, r.count, `${path}.rate`);
  const limit: Limit = { ...rate, id, cost, algorithm, by, fromPlan: false, shared: fields.shared };
  return { limit, idPath: name === undefined ? `${path}.rate` : `${path}.name` };
}

/** Past this many units per period, a sliding log's state (one entry per ms used) gets heavy. */
const LOG_SIZE_WARNING = 1000;

function warnLogSize(report: Report, algorithm: Algorithm, count: number, path: string): void {
  if (algorithm !== "sliding-log" || count <= LOG_SIZE_WARNING) return;
  add(
    report.warnings,
    "WARN_SLUICE_SLIDING_LOG_SIZE",
    path,
    `sliding-log keeps up to ${count} entries per subject and rewrites them on every request; above ${LOG_SIZE_WARNING} consider "sliding-window" or "gcra"`,
  );
}

function readRateValue(report: Report, value: unknown, path: string): RateSource[] {
  if (value === undefined) {
    add(
      report.issues,
      "ERR_SLUICE_REQUIRED",
      path,
      'expected "rate" like "10/s" or {"count": 10, "period": "1s"}',
    );
    return [];
  }
  if (typeof value === "string") {
    const parsed = parseRate(value);
    if (!parsed.ok) {
      add(report.issues, parsed.error.code, path, parsed.error.message);
      return [];
    }
    return parsed.rates.map((r) => (r.burst === undefined ? { ...r } : { ...r, burstPath: path }));
  }
  if (!isObject(value)) {
    typeError(report, path, 'a rate like "10/s" or {"count": 10, "period": "1s"}', value);
    return [];
  }
  return readRateObject(report, value, path);
}

/** `{"count": 10, "period": "1s", "burst": 20}`: the object form of one rate. */
function readRateObject(report: Report, value: Obj, path: string): RateSource[] {
  const obj = readObject(report, value, path, RATE_OBJECT_FIELDS, "an object");
  if (obj === undefined) return [];
  const before = report.issues.length;
  const count = readRateCount(report, obj.count, `${path}.count`);
  const periodMs = readRatePeriod(report, obj.period, `${path}.period`);
  let burst: number | undefined;
  if (obj.burst !== undefined) {
    if (isPositiveInt(obj.burst)) burst = obj.burst;
    else positiveIntError(report, "ERR_SLUICE_RATE_BURST", `${path}.burst`, obj.burst);
  }
  if (report.issues.length > before) return [];
  return [
    burst === undefined
      ? { count, periodMs }
      : { count, periodMs, burst, burstPath: `${path}.burst` },
  ];
}

function readRateCount(report: Report, value: unknown, path: string): number {
  if (value === undefined) {
    add(report.issues, "ERR_SLUICE_REQUIRED", path, 'expected "count", a positive integer');
    return 0;
  }
  if (isPositiveInt(value)) return value;
  positiveIntError(report, "ERR_SLUICE_RATE_COUNT", path, value);
  return 0;
}

/** A period as text (`"1s"`, `"2 minutes"`) or as milliseconds. */
function readRatePeriod(report: Report, value: unknown, path: string): number {
  if (value === undefined) {
    const message = 'expected "period" like "1s", "2 minutes" or 60000 (ms)';
    add(report.issues, "ERR_SLUICE_REQUIRED", path, message);
    return 0;
  }
  if (typeof value !== "string" && typeof value !== "number") {
    const message = `expected a period like "1s", "2 minutes" or 60000 (ms), got ${describe(value)}`;
    add(report.issues, "ERR_SLUICE_RATE_PERIOD", path, message);
    return 0;
  }
  const period = typeof value === "string" ? parsePeriod(value) : checkPeriodMs(value);
  if (period.ok) return period.periodMs;
  add(report.issues, period.error.code, path, period.error.message);
  return 0;
}

function positiveIntError(report: Report, code: IssueCode, path: string, value: unknown): void {
  add(report.issues, code, path, `expected a positive integer, got ${describe(value)}`);
}

/**
 * What a limit (or a concurrency cap) counts by: `ip` when absent.
 *
 * @example
 * readSubject(report, "header:X-User", "rules[0].limits[0].by"); // → { kind: "header", name: "x-user" }
 */
export function readSubject(report: Report, value: unknown, path: string): Subject {
  if (value === undefined) return { kind: "ip" };
  const expected = '"ip", "apiKey", "tenant", "global" or "header:<name>"';
  if (typeof value !== "string") {
    typeError(report, path, expected, value);
    return { kind: "ip" };
  }
  if (value === "ip" || value === "apiKey" || value === "tenant" || value === "global") {
    return { kind: value };
  }
  if (value.startsWith("header:")) {
    const name = value.slice("header:".length);
    if (TOKEN.test(name)) return { kind: "header", name: name.toLowerCase() };
    add(
      report.issues,
      "ERR_SLUICE_HEADER_SYNTAX",
      path,
      name === "" ? 'expected a header name after "header:", got nothing' : headerMessage(name),
    );
    return { kind: "ip" };
  }
  add(
    report.issues,
    "ERR_SLUICE_ENUM",
    path,
    `expected ${expected}, got ${describe(value)}${suggest(value, ["ip", "apiKey", "tenant", "global", "header:"])}`,
  );
  return { kind: "ip" };
}

/** The subject part of a default limit id; lower-case so it is a valid sf-key. */
function subjectId(by: Subject): string {
  switch (by.kind) {
    case "ip":
      return "ip";
    case "apiKey":
      return "apikey";
    case "tenant":
      return "tenant";
    case "global":
      return "global";
    case "header":
      return `hdr.${by.name}`;
  }
}
