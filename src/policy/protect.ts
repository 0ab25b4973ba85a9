/** @module policy/protect — reads lists, application-wide limits, and rules' exemptions, bans and refusals; checks them against each other. */

import { parseCidr } from "../protect/cidr.ts";
import { readDuration } from "./duration.ts";
import { readLimits } from "./limits.ts";
import type { RawBan, RawList, RawResponse } from "./raw.ts";
import {
  add,
  describe,
  headerMessage,
  isObject,
  join,
  keysOf,
  type Obj,
  type Report,
  readBoolean,
  readEnum,
  readObject,
  readOptionalInt,
  readOptionalObject,
  suggest,
  TOKEN,
  typeError,
} from "./read.ts";
import { TENANT_ID } from "./tenants.ts";
import type {
  BanPolicy,
  Limit,
  ListSpec,
  RefusalSpec,
  Rule,
  Subject,
  TenantsConfig,
} from "./types.ts";

const LIST_FIELDS = keysOf<RawList>({ action: true, ips: true, tenants: true, countries: true });
const BAN_FIELDS = keysOf<RawBan>({
  after: true,
  within: true,
  for: true,
  escalate: true,
  max: true,
});
const RESPONSE_FIELDS = keysOf<RawResponse>({ status: true, headers: true, body: true });

/** List names: they appear in admin URLs and logs. */
export const LIST_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** ISO 3166-1 alpha-2, and Cloudflare's "T1" (Tor) and "XX" (unknown). */
export const COUNTRY = /^[A-Za-z][A-Za-z0-9]$/;
/** Placeholders a refusal body may hold, filled per request. */
export const PLACEHOLDERS = ["rule", "limit", "retryAfter", "tenant"] as const;
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Fields Sluice sets on refusals itself: Retry-After (RFC 9110 §10.2.3), the
 * RateLimit fields, Server-Timing, and framing (RFC 9110 §8.6, §7.6.1).
 */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  "retry-after",
  "ratelimit",
  "ratelimit-policy",
  "x-ratelimit-limit",
  "x-ratelimit-remaining",
  "x-ratelimit-reset",
  "server-timing",
  "content-length",
  "transfer-encoding",
  "connection",
]);
/** RFC 9110 §5.5 field-value: visible characters, spaces and tabs inside; no CR or LF. */
const FIELD_VALUE = /^[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?$/;

/** The rule name application-wide limits are decided, keyed and logged under; no rule can have it. */
export const APP_RULE = "*";

/**
 * Application-wide limits as a rule, for requests that meet them without
 * their own rule's limits (unmatched, or exempt from their rule): every
 * setting at its default.
 *
 * @example
 * applicationRule(policy.limits).name; // "*"
 */
export function applicationRule(limits: Limit[]): Rule {
  return { name: APP_RULE, match: { methods: null, path: "*" }, limits, ...RULE_DEFAULTS };
}

/** What a rule has when it leaves its protection fields out. */
export const DEFAULT_RESPONSE: RefusalSpec = { status: 429, headers: {}, body: null };

/**
 * Every rule setting at its default, as a policy that leaves them out reads.
 *
 * @example
 * const rule: Rule = { name: "api", match: { path: "/api/*", methods: null }, limits: [], ...RULE_DEFAULTS };
 */
export const RULE_DEFAULTS: Omit<Rule, "name" | "match" | "limits"> = {
  onStoreError: "local",
  mode: "enforce",
  countRejected: false,
  countStatus: null,
  action: "reject",
  maxDelayMs: 0,
  concurrency: null,
  adaptive: null,
  exempt: [],
  ban: null,
  response: DEFAULT_RESPONSE,
  rateLimitHeaders: true,
};
const BAN_DEFAULT_MAX = "24h";

/**
 * Reads `lists`: each entry checked and written canonically (ranges as `parseCidr`
 * writes them, countries upper-case), duplicates dropped.
 *
 * @example
 * readLists(report, { lists: { blocked: { action: "deny", ips: ["198.51.100.0/24"] } } });
 * // → { blocked: { action: "deny", ips: ["198.51.100.0/24"], tenants: [], countries: [] } }
 */
export function readLists(report: Report, root: Obj): Record<string, ListSpec> {
  const lists: Record<string, ListSpec> = {};
  if (root.lists === undefined) return lists;
  if (!isObject(root.lists)) {
    typeError(
      report,
      "lists",
      'an object like {"blocked": {"action": "deny", "ips": [...]}}',
      root.lists,
    );
    return lists;
  }
  for (const [name, value] of Object.entries(root.lists)) {
    const path = join("lists", name);
    if (!LIST_NAME.test(name)) {
      add(
        report.issues,
        "ERR_SLUICE_LIST_NAME_SYNTAX",
        path,
        `expected a list name of 1–64 lower-case letters, digits, "_" or "-", got ${describe(name)}`,
      );
    }
    const obj = readObject(report, value, path, LIST_FIELDS, "an object (a list)");
    const action = readEnum(report, obj, path, "action", ["allow", "deny"] as const, "allow");
    lists[name] = {
      action: obj?.action === undefined ? null : action,
      ips: readEntries(report, obj, path, "ips", (v) => {
        const cidr = parseCidr(v);
        if (typeof cidr !== "string") return cidr.text;
        add(
          report.issues,
          "ERR_SLUICE_CIDR_SYNTAX",
          "",
          `expected an address or CIDR range like "203.0.113.0/24", got ${describe(v)}: ${cidr}`,
        );
        return undefined;
      }),
      tenants: readEntries(report, obj, path, "tenants", (v) => {
        if (TENANT_ID.test(v)) return v;
        const message = `expected a tenant id of 1–64 lower-case letters, digits, "_" or "-", got ${describe(v)}`;
        add(report.issues, "ERR_SLUICE_TENANT_ID_SYNTAX", "", message);
        return undefined;
      }),
      countries: readEntries(report, obj, path, "countries", (v) => {
        if (COUNTRY.test(v)) return v.toUpperCase();
        const message = `expected a two-character country code like "DE" (as request.cf.country has it), got ${describe(v)}`;
        add(report.issues, "ERR_SLUICE_COUNTRY_SYNTAX", "", message);
        return undefined;
      }),
    };
  }
  return lists;
}

/**
 * A list field's entries through `check`, which returns the canonical entry or
 * reports with an empty path (filled in here) and returns undefined.
 */
function readEntries(
  report: Report,
  obj: Obj | undefined,
  parent: string,
  key: string,
  check: (value: string) => string | undefined,
): string[] {
  const value = obj?.[key];
  if (value === undefined) return [];
  const path = join(parent, key);
  if (!Array.isArray(value)) {
    typeError(report, path, "a list of strings", value);
    return [];
  }
  const out = new Set<string>();
  value.forEach((item, i) => {
    if (typeof item !== "string") {
      typeError(report, `${path}[${i}]`, "a string", item);
      return;
    }
    const before = report.issues.length;
    const entry = check(item);
    for (const issue of report.issues.slice(before)) issue.path = `${path}[${i}]`;
    if (entry !== undefined) out.add(entry);
  });
  return [...out];
}

/** Starts application-wide limits' default ids: they name RateLimit items beside a rule's. */
export const APP_ID_PREFIX = "app.";

/**
 * Reads the top-level `limits`: application-wide limits, absent or empty for
 * none. Their default ids start with `app.`, so they never meet a rule's own.
 *
 * @example
 * readAppLimits(report, { limits: [{ rate: "1000/min", by: "ip" }] }); // → [{ id: "app.ip-1m", … }]
 */
export function readAppLimits(report: Report, root: Obj): Limit[] {
  if (root.limits === undefined) return [];
  if (Array.isArray(root.limits) && root.limits.length === 0) return [];
  return readLimits(report, root, "", APP_ID_PREFIX);
}

/** A rule's protection fields, defaulted. */
export type RuleProtection = Pick<Rule, "exempt" | "ban" | "response" | "rateLimitHeaders">;

/**
 * Reads a rule's `exempt`, `ban`, `response` and `rateLimitHeaders`.
 *
 * @example
 * readRuleProtection(report, { ban: { after: 3, within: "1m", for: "10m" } }, "rules[0]").ban;
 * // → { after: 3, withinMs: 60000, forMs: 600000, escalate: 1, maxMs: 86400000 }
 */
export function readRuleProtection(report: Report, obj: Obj, path: string): RuleProtection {
  return {
    exempt: readExempt(report, obj.exempt, `${path}.exempt`),
    ban: readBan(report, obj.ban, `${path}.ban`),
    response: readResponse(report, obj.response, `${path}.response`),
    rateLimitHeaders: readBoolean(report, obj, path, "rateLimitHeaders", true),
  };
}

function readExempt(report: Report, value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    typeError(report, path, 'a list of list names like ["office"]', value);
    return [];
  }
  return [...new Set(value as string[])];
}

function readBan(report: Report, value: unknown, path: string): BanPolicy | null {
  const obj = readOptionalObject(report, value, path, BAN_FIELDS);
  if (obj === undefined) return null;
  const before = report.issues.length;
  const after = readOptionalInt(report, obj, path, "after", 1, 1000);
  if (obj.after === undefined) {
    add(
      report.issues,
      "ERR_SLUICE_REQUIRED",
      `${path}.after`,
      'expected "after", the denials that start a ban',
    );
  }
  const withinMs = readDuration(report, obj, path, "within", undefined);
  const forMs = readDuration(report, obj, path, "for", undefined);
  const maxMs = readDuration(report, obj, path, "max", BAN_DEFAULT_MAX);
  let escalate = 1;
  if (obj.escalate !== undefined) {
    const e = obj.escalate;
    if (typeof e !== "number" || !Number.isFinite(e)) {
      typeError(report, `${path}.escalate`, "a number from 1 to 100", e);
    } else if (e < 1 || e > 100) {
      add(
        report.issues,
        "ERR_SLUICE_RANGE",
        `${path}.escalate`,
        `expected a number from 1 to 100, got ${e}`,
      );
    } else {
      escalate = e;
    }
  }
  if (forMs > 0 && maxMs > 0 && maxMs < forMs) {
    const max =
      obj.max === undefined
        ? `the default "max", "${BAN_DEFAULT_MAX}"`
        : `"max" ${describe(obj.max)}`;
    add(
      report.issues,
      "ERR_SLUICE_BAN_MAX",
      `${path}.max`,
      `"for" ${describe(obj.for)} is longer than ${max}; set "max" to at least "for"`,
    );
  }
  if (report.issues.length > before || after === undefined) return null;
  return { after, withinMs, forMs, escalate, maxMs };
}

function readResponse(report: Report, value: unknown, path: string): RefusalSpec {
  const obj = readOptionalObject(report, value, path, RESPONSE_FIELDS);
  if (obj === undefined) return DEFAULT_RESPONSE;
  let status: 429 | 503 = 429;
  if (obj.status !== undefined) {
    if (obj.status === 429 || obj.status === 503) status = obj.status;
    else {
      const code = typeof obj.status === "number" ? "ERR_SLUICE_ENUM" : "ERR_SLUICE_TYPE";
      add(
        report.issues,
        code,
        `${path}.status`,
        `expected 429 or 503, got ${describe(obj.status)}`,
      );
    }
  }
  const headers = readHeaders(report, obj.headers, `${path}.headers`);
  let body: Record<string, unknown> | null = null;
  if (obj.body !== undefined) {
    if (isObject(obj.body)) {
      body = obj.body;
      checkPlaceholders(report, body, `${path}.body`);
    } else {
      typeError(report, `${path}.body`, "a JSON object", obj.body);
    }
  }
  return { status, headers, body };
}

function readHeaders(report: Report, value: unknown, path: string): Record<string, string> {
  const headers: Record<string, string> = {};
  if (value === undefined) return headers;
  if (!isObject(value)) {
    typeError(report, path, 'an object like {"x-reason": "rate-limited"}', value);
    return headers;
  }
  for (const [name, v] of Object.entries(value)) {
    const at = join(path, name);
    const lower = name.toLowerCase();
    if (!TOKEN.test(name)) {
      add(report.issues, "ERR_SLUICE_HEADER_SYNTAX", at, headerMessage(name));
    } else if (RESERVED_HEADERS.has(lower)) {
      add(
        report.issues,
        "ERR_SLUICE_HEADER_RESERVED",
        at,
        `${describe(name)} is Sluice's to set on refusals (as are the RateLimit fields, Server-Timing and framing headers); remove it`,
      );
    } else if (typeof v !== "string") {
      typeError(report, at, "a string", v);
    } else if (!FIELD_VALUE.test(v)) {
      add(
        report.issues,
        "ERR_SLUICE_HEADER_VALUE",
        at,
        `expected a non-empty header value of visible characters, spaces and tabs (no line breaks), got ${describe(v)}`,
      );
    } else {
      headers[lower] = v;
    }
  }
  return headers;
}

/** Every string in the body may only name known placeholders. */
function checkPlaceholders(report: Report, value: unknown, path: string): void {
  if (typeof value === "string") {
    for (const [, name] of value.matchAll(PLACEHOLDER)) {
      if ((PLACEHOLDERS as readonly string[]).includes(name as string)) continue;
      const known = PLACEHOLDERS.map((p) => `{${p}}`).join(", ");
      add(
        report.issues,
        "ERR_SLUICE_PLACEHOLDER",
        path,
        `unknown placeholder "{${name}}" (known: ${known})${suggest(name as string, PLACEHOLDERS)}`,
      );
    }
  } else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) checkPlaceholders(report, v, `${path}[${i}]`);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) checkPlaceholders(report, v, join(path, k));
  }
}

/** Everything `checkProtection` looks across. */
export interface ProtectionParts {
  rules: readonly Rule[];
  limits: readonly Limit[];
  lists: Record<string, ListSpec>;
  tenants: TenantsConfig;
}

/**
 * Checks what spans sections: exempted lists exist, tenant entries have issued
 * keys to match, shared limits agree, application-wide limit ids stay apart from
 * rules' ids; and warns about settings that deserve a second look.
 */
export function checkProtection(report: Report, parts: ProtectionParts): void {
  const { rules, limits, lists, tenants } = parts;
  for (const [name, list] of Object.entries(lists)) {
    if (list.tenants.length > 0 && !tenants.enabled) {
      add(
        report.issues,
        "ERR_SLUICE_TENANTS_MISSING",
        `${join("lists", name)}.tenants`,
        'tenant entries match issued keys; add a "tenants" section (it may be empty: {})',
      );
    }
  }
  rules.forEach((rule, i) => {
    rule.exempt.forEach((name, j) => {
      const list = lists[name];
      const path = `rules[${i}].exempt[${j}]`;
      if (!list) {
        const known = Object.keys(lists);
        const hint =
          suggest(name, known) ||
          (known.length ? `; lists: ${known.join(", ")}` : "; the policy declares no lists");
        add(
          report.issues,
          "ERR_SLUICE_LIST_UNKNOWN",
          path,
          `unknown list ${describe(name)}${hint}`,
        );
      } else if (list.action !== null) {
        add(
          report.warnings,
          "WARN_SLUICE_EXEMPT_LIST_ACTION",
          path,
          `list ${describe(name)} is an ${list.action} list: its members ${list.action === "deny" ? "are refused before any rule" : "pass every limit already"}, so exempting it here changes nothing`,
        );
      }
    });
  });
  checkAppLimitIds(report, rules, limits);
  checkShared(report, rules, limits);
  warnBanSubjects(report, rules, limits);
}

function checkAppLimitIds(report: Report, rules: readonly Rule[], limits: readonly Limit[]): void {
  limits.forEach((limit, j) => {
    if (limit.fromPlan || limit.by.kind === "apiKey" || limit.by.kind === "tenant") {
      add(
        report.issues,
        "ERR_SLUICE_APP_LIMIT_SUBJECT",
        `limits[${j}].${limit.fromPlan ? "rate" : "by"}`,
        `an application-wide limit applies to every request, and not every request has an API key; count it by "ip", "global" or "header:<name>", or move it into the rules that need a key`,
      );
    }
    rules.forEach((rule, i) => {
      const k = rule.limits.findIndex((l) => l.id === limit.id);
      if (k === -1) return;
      add(
        report.issues,
        "ERR_SLUICE_LIMIT_ID_DUPLICATE",
        `rules[${i}].limits[${k}]`,
        `limit id ${describe(limit.id)} is already an application-wide limit's (limits[${j}]), and both would name one RateLimit item; set "name" to tell them apart`,
      );
    });
  });
}

/** Limits sharing a bucket must read it alike: same id, rate, burst, algorithm and subject. */
function checkShared(report: Report, rules: readonly Rule[], limits: readonly Limit[]): void {
  const first = new Map<string, { limit: Limit; path: string }>();
  const all = [
    ...limits.map((limit, j) => ({ limit, path: `limits[${j}]` })),
    ...rules.flatMap((rule, i) =>
      rule.limits.map((limit, j) => ({ limit, path: `rules[${i}].limits[${j}]` })),
    ),
  ];
  for (const { limit, path } of all) {
    if (limit.shared === null) continue;
    const key = `${limit.shared}\n${limit.id}`;
    const seen = first.get(key);
    if (!seen) {
      first.set(key, { limit, path });
      continue;
    }
    const differs = sharedDifference(seen.limit, limit);
    if (differs) {
      add(
        report.issues,
        "ERR_SLUICE_SHARED_MISMATCH",
        `${path}.shared`,
        `limit ${describe(limit.id)} shares ${describe(limit.shared)} with ${seen.path} but its ${differs}; limits that count in one bucket must state it alike`,
      );
    }
  }
}

function sharedDifference(a: Limit, b: Limit): string | undefined {
  if (a.fromPlan !== b.fromPlan) return "rate comes from a plan and the other's does not";
  if (a.count !== b.count || a.periodMs !== b.periodMs) return "rate differs";
  if (a.burst !== b.burst) return `burst differs (${b.burst}, not ${a.burst})`;
  if (a.algorithm !== b.algorithm) return `algorithm differs (${b.algorithm}, not ${a.algorithm})`;
  if (subjectText(a.by) !== subjectText(b.by))
    return `subject differs (${subjectText(b.by)}, not ${subjectText(a.by)})`;
  return undefined;
}

function subjectText(by: Subject): string {
  return by.kind === "header" ? `header:${by.name}` : by.kind;
}

/**
 * A denial by an application-wide limit strikes the rule's ban too (one store
 * call decides both), so one counting by another subject (everyone, say) can
 * get clients banned for others' traffic.
 */
function warnBanSubjects(report: Report, rules: readonly Rule[], limits: readonly Limit[]): void {
  rules.forEach((rule, i) => {
    const first = rule.limits[0];
    if (!rule.ban || !first) return;
    for (const limit of limits) {
      if (subjectText(limit.by) === subjectText(first.by)) continue;
      add(
        report.warnings,
        "WARN_SLUICE_BAN_APP_LIMIT",
        `rules[${i}].ban`,
        `rule ${describe(rule.name)} bans by ${subjectText(first.by)}, but a denial by application-wide limit ${describe(limit.id)} (by ${subjectText(limit.by)}) also counts as a strike, so clients can be banned for others' traffic; count that limit by ${subjectText(first.by)} too, or leave the ban off`,
      );
      return;
    }
  });
}
