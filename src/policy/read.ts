/** @module policy/read — JSON field readers that report a precise path and keep going, so one pass collects every issue. */
import type { IssueCode, WarningCode } from "./codes.ts";
import type { PolicyIssue } from "./types.ts";

/** A JSON object as parsed. */
export type Obj = Record<string, unknown>;

/** Where readers put what they find; each reader returns a usable fallback after reporting. */
export interface Report {
  issues: PolicyIssue[];
  warnings: PolicyIssue[];
}

/**
 * RFC 9110 §5.6.2 token: valid header names and methods.
 *
 * @example
 * TOKEN.test("x-api-key"); // → true
 */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * The field names of `T` in the order written, for {@link readObject}. The parameter's type makes
 * the compiler refuse a list that leaves out a field of `T` or names one `T` does not have
 * (express-rate-limit's `KeysEnum` trick), so the reader cannot drift from the raw types.
 *
 * @example
 * const MATCH_FIELDS = keysOf<RawMatch>({ path: true, methods: true }); // → ["path", "methods"]
 */
export function keysOf<T>(fields: Record<keyof T, true>): readonly string[] {
  return Object.keys(fields);
}

/**
 * Checks that `value` is a JSON object and reports each key outside `fields` as an unknown field.
 *
 * @example
 * const rule = readObject(report, raw, "rules[0]", ["name", "match"], "an object (a rule)");
 */
export function readObject(
  report: Report,
  value: unknown,
  path: string,
  fields: readonly string[],
  what: string,
): Obj | undefined {
  if (!isObject(value)) {
    typeError(report, path, what, value);
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (fields.includes(key)) continue;
    const hint = suggest(key, fields) || `; expected one of: ${fields.join(", ")}`;
    add(
      report.issues,
      "ERR_SLUICE_UNKNOWN_FIELD",
      join(path, key),
      `unknown field ${describe(key)}${hint}`,
    );
  }
  return value;
}

/**
 * Like {@link readObject}, but absence is fine.
 *
 * @example
 * const store = readOptionalObject(report, root.store, "store", ["timeoutMs"]); // undefined when absent
 */
export function readOptionalObject(
  report: Report,
  value: unknown,
  path: string,
  fields: readonly string[],
): Obj | undefined {
  if (value === undefined) return undefined;
  return readObject(report, value, path, fields, "an object");
}

/**
 * Reads a required, non-empty list field.
 *
 * @example
 * const rules = readList(report, root, "", "rules", "rule"); // [] after reporting when absent
 */
export function readList(
  report: Report,
  obj: Obj,
  parent: string,
  key: string,
  what: string,
): unknown[] {
  const path = join(parent, key);
  const value = obj[key];
  if (value === undefined) {
    add(
      report.issues,
      "ERR_SLUICE_REQUIRED",
      path,
      `expected "${key}", a list with at least one ${what}`,
    );
    return [];
  }
  if (!Array.isArray(value)) {
    typeError(report, path, `a list of ${what}s`, value);
    return [];
  }
  if (value.length === 0) {
    add(
      report.issues,
      "ERR_SLUICE_EMPTY",
      path,
      `expected at least one ${what}, got an empty list`,
    );
  }
  return value;
}

/**
 * Reads an optional non-empty string field; a wrong type is reported and read as "".
 *
 * @example
 * const name = readOptionalString(report, limit, "rules[0].limits[0]", "name");
 */
export function readOptionalString(
  report: Report,
  obj: Obj,
  parent: string,
  key: string,
): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  const path = join(parent, key);
  if (typeof value !== "string") {
    typeError(report, path, "a string", value);
    return "";
  }
  if (value === "") {
    add(report.issues, "ERR_SLUICE_EMPTY", path, "expected a non-empty string");
  }
  return value;
}

/**
 * Reads a string field with a default.
 *
 * @example
 * const version = readString(report, root, "", "version", "0");
 */
export function readString(
  report: Report,
  obj: Obj | undefined,
  parent: string,
  key: string,
  fallback: string,
): string {
  if (obj === undefined) return fallback;
  return readOptionalString(report, obj, parent, key) ?? fallback;
}

/**
 * Reads a string field that must be present; "" after reporting when it is not.
 *
 * @example
 * const name = readRequiredString(report, rule, "rules[0]", "name");
 */
export function readRequiredString(report: Report, obj: Obj, parent: string, key: string): string {
  const value = readOptionalString(report, obj, parent, key);
  if (value !== undefined) return value;
  add(report.issues, "ERR_SLUICE_REQUIRED", join(parent, key), `expected "${key}", a string`);
  return "";
}

/**
 * Reads a boolean field with a default.
 *
 * @example
 * const legacy = readBoolean(report, headers, "headers", "legacy", false);
 */
export function readBoolean(
  report: Report,
  obj: Obj | undefined,
  parent: string,
  key: string,
  fallback: boolean,
): boolean {
  const value = obj?.[key];
  if (value === undefined) return fallback;
  if (typeof value === "boolean") return value;
  typeError(report, join(parent, key), "true or false", value);
  return fallback;
}

/**
 * Reads an optional safe integer in `[min, max]` (`max` = MAX_SAFE_INTEGER means "no upper bound").
 *
 * @example
 * const burst = readOptionalInt(report, limit, path, "burst", 1, Number.MAX_SAFE_INTEGER);
 */
export function readOptionalInt(
  report: Report,
  obj: Obj | undefined,
  parent: string,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const value = obj?.[key];
  if (value === undefined) return undefined;
  const path = join(parent, key);
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    typeError(report, path, `an integer ${range}`, value);
    return undefined;
  }
  if (value < min || value > max) {
    add(report.issues, "ERR_SLUICE_RANGE", path, `expected an integer ${range}, got ${value}`);
    return undefined;
  }
  return value;
}

/**
 * Like {@link readOptionalInt}, with a default.
 *
 * @example
 * const timeoutMs = readInt(report, store, "store", "timeoutMs", 10, 5000, 250);
 */
export function readInt(
  report: Report,
  obj: Obj | undefined,
  parent: string,
  key: string,
  min: number,
  max: number,
  fallback: number,
): number {
  return readOptionalInt(report, obj, parent, key, min, max) ?? fallback;
}

/**
 * Reads one of a fixed set of strings, suggesting the nearest choice for a near miss.
 *
 * @example
 * const mode = readEnum(report, rule, "rules[0]", "mode", ["enforce", "shadow"] as const, "enforce");
 */
export function readEnum<T extends string>(
  report: Report,
  obj: Obj | undefined,
  parent: string,
  key: string,
  choices: readonly T[],
  fallback: T,
): T {
  const value = obj?.[key];
  if (value === undefined) return fallback;
  const found = choices.find((c) => c === value);
  if (found !== undefined) return found;
  const list = choices.map((c) => JSON.stringify(c)).join(" or ");
  const hint = typeof value === "string" ? suggest(value, choices) : "";
  const code = typeof value === "string" ? "ERR_SLUICE_ENUM" : "ERR_SLUICE_TYPE";
  add(report.issues, code, join(parent, key), `expected ${list}, got ${describe(value)}${hint}`);
  return fallback;
}

/**
 * Records one issue or warning.
 *
 * @example
 * add(report.issues, "ERR_SLUICE_PATH_SYNTAX", "rules[0].match.path", message);
 */
export function add(
  list: PolicyIssue[],
  code: IssueCode | WarningCode,
  path: string,
  message: string,
): void {
  list.push({ code, path, message });
}

/**
 * Records a value of the wrong JSON type, saying what was expected and what came.
 *
 * @example
 * typeError(report, "plans", 'an object like {"free": "5/s"}', []);
 * // → ERR_SLUICE_TYPE at plans: expected an object like {"free": "5/s"}, got a list
 */
export function typeError(report: Report, path: string, expected: string, value: unknown): void {
  add(report.issues, "ERR_SLUICE_TYPE", path, `expected ${expected}, got ${describe(value)}`);
}

/**
 * The message for a string that is not an HTTP field name.
 *
 * @example
 * headerMessage("x api"); // → 'expected a header name (…), got "x api"'
 */
export function headerMessage(name: string): string {
  return `expected a header name (letters, digits and !#$%&'*+-.^_\`|~), got ${describe(name)}`;
}

/**
 * True for a JSON object (not null, not an array).
 *
 * @example
 * isObject([]); // → false
 */
export function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * True for a positive safe integer.
 *
 * @example
 * isPositiveInt(1.5); // → false
 */
export function isPositiveInt(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * Appends a key to a JSON path; odd keys are quoted so the path stays unambiguous.
 *
 * @example
 * join("rules[1]", "limits"); // → "rules[1].limits"
 * join("", "rate limit");     // → '["rate limit"]'
 */
export function join(parent: string, key: string): string {
  if (!IDENTIFIER.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent === "" ? key : `${parent}.${key}`;
}

/**
 * How a bad value reads in a message; long strings are cut so a log line stays a line.
 *
 * @example
 * describe("10"); // → '"10"'
 * describe([]);   // → "a list"
 */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  return String(value);
}

/**
 * A hint for near misses (typos and case), else "".
 *
 * @example
 * suggest("method", ["path", "methods"]); // → '; did you mean "methods"?'
 */
export function suggest(word: string, choices: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const choice of choices) {
    const d = distance(word.toLowerCase(), choice.toLowerCase());
    if (d < bestDistance) {
      best = choice;
      bestDistance = d;
    }
  }
  return best === undefined ? "" : `; did you mean ${JSON.stringify(best)}?`;
}

/** Levenshtein distance; inputs are short field names, so the quadratic table is fine. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
