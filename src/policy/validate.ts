/** @module policy/validate — turns user JSON into a fully defaulted Policy, reporting every problem with its path. */

import { headerKey } from "../util/header-name.ts";
import { readAdaptive } from "./adaptive.ts";
import { readAlerts } from "./alerts.ts";
import { readLimits } from "./limits.ts";
import { checkPathPattern } from "./match.ts";
import { checkProtection, readAppLimits, readLists, readRuleProtection } from "./protect.ts";
import type {
  RawApiKey,
  RawHeaders,
  RawIdentity,
  RawIp,
  RawLog,
  RawMatch,
  RawOrigin,
  RawPolicy,
  RawRule,
  RawStore,
} from "./raw.ts";
import {
  add,
  describe,
  headerMessage,
  isObject,
  keysOf,
  type Obj,
  type Report,
  readBoolean,
  readEnum,
  readInt,
  readList,
  readObject,
  readOptionalObject,
  readRequiredString,
  readString,
  TOKEN,
  typeError,
} from "./read.ts";
import { firstShadows } from "./shadow.ts";
import { checkTenantLimits, readPlans, readTenants } from "./tenants.ts";
import { readThrottle } from "./throttle.ts";
import type { IdentityConfig, Policy, PolicyIssue, Rule } from "./types.ts";

export { ISSUE_CODES, type IssueCode, WARNING_CODES, type WarningCode } from "./codes.ts";

/** Outcome of {@link validatePolicy}. Warnings are legal but suspicious settings, worth logging once. */
export type ValidationResult =
  | { ok: true; policy: Policy; warnings: PolicyIssue[] }
  | { ok: false; issues: PolicyIssue[]; warnings: PolicyIssue[] };

// `$schema` is read apart: it is not part of the policy, so no message lists it.
const TOP_FIELDS = keysOf<Omit<RawPolicy, "$schema">>({
  version: true,
  prefix: true,
  identity: true,
  headers: true,
  log: true,
  store: true,
  origin: true,
  plans: true,
  tenants: true,
  lists: true,
  limits: true,
  alerts: true,
  rules: true,
});
const IDENTITY_FIELDS = keysOf<RawIdentity>({ ip: true, apiKey: true });
const IP_FIELDS = keysOf<RawIp>({ source: true, trustedHops: true, ipv6Subnet: true });
const API_KEY_FIELDS = keysOf<RawApiKey>({ header: true, bearer: true });
const HEADERS_FIELDS = keysOf<RawHeaders>({ legacy: true });
const LOG_FIELDS = keysOf<RawLog>({ allowed: true });
const STORE_FIELDS = keysOf<RawStore>({ timeoutMs: true, shards: true });
const ORIGIN_FIELDS = keysOf<RawOrigin>({ timeoutMs: true });
const RULE_FIELDS = keysOf<RawRule>({
  name: true,
  match: true,
  limits: true,
  onStoreError: true,
  mode: true,
  countRejected: true,
  countStatus: true,
  action: true,
  maxDelay: true,
  concurrency: true,
  adaptive: true,
  exempt: true,
  ban: true,
  response: true,
  rateLimitHeaders: true,
});
const MATCH_FIELDS = keysOf<RawMatch>({ path: true, methods: true });

/** Store key prefixes: they start every store key. */
export const PREFIX = /^[a-z0-9_-]+$/;
/** Rule names: part of store keys and logs. */
export const RULE_NAME = /^[a-z0-9][a-z0-9_-]*$/;

const DEFAULTS = {
  version: "0",
  prefix: "sluice",
  trustedHops: 1,
  ipv6Subnet: 56,
  apiKeyHeader: "x-api-key",
  storeTimeoutMs: 250,
  originTimeoutMs: 30_000,
} as const;

/**
 * Validates a parsed policy document and applies every default, collecting all problems (not just
 * the first), each with a code, the exact JSON path and what was expected.
 *
 * @example
 * const result = validatePolicy({ rules: [{ name: "login", match: { path: "/login" }, limits: [{ rate: "5/min" }] }] });
 * if (result.ok) result.policy.rules[0]?.limits[0]?.id; // → "ip-1m"
 * else console.error(formatIssues(result.issues));
 */
export function validatePolicy(raw: unknown): ValidationResult {
  const report: Report = { issues: [], warnings: [] };
  const root = readObject(
    report,
    withoutSchemaRef(report, raw),
    "",
    TOP_FIELDS,
    "a JSON object (the policy)",
  );
  if (root === undefined) return { ok: false, issues: report.issues, warnings: report.warnings };

  const version = readString(report, root, "", "version", DEFAULTS.version);
  let prefix = readString(report, root, "", "prefix", DEFAULTS.prefix);
  if (prefix !== "" && !PREFIX.test(prefix)) {
    add(
      report.issues,
      "ERR_SLUICE_PREFIX_SYNTAX",
      "prefix",
      `expected lower-case letters, digits, "_" or "-" (it starts every store key), got ${describe(prefix)}`,
    );
    prefix = DEFAULTS.prefix;
  }

  const identity = readIdentity(report, root.identity);
  const headersObj = readOptionalObject(report, root.headers, "headers", HEADERS_FIELDS);
  const storeObj = readOptionalObject(report, root.store, "store", STORE_FIELDS);
  const originObj = readOptionalObject(report, root.origin, "origin", ORIGIN_FIELDS);
  const headers = { legacy: readBoolean(report, headersObj, "headers", "legacy", false) };
  const logObj = readOptionalObject(report, root.log, "log", LOG_FIELDS);
  const log = { allowed: readBoolean(report, logObj, "log", "allowed", true) };
  const store = {
    timeoutMs: readInt(report, storeObj, "store", "timeoutMs", 10, 5000, DEFAULTS.storeTimeoutMs),
    shards: readInt(report, storeObj, "store", "shards", 1, 64, 1),
  };
  const origin = {
    timeoutMs: readInt(
      report,
      originObj,
      "origin",
      "timeoutMs",
      100,
      600_000,
      DEFAULTS.originTimeoutMs,
    ),
  };

  const plans = readPlans(report, root);
  const tenants = readTenants(report, root);
  if (headerKey(tenants.header) === headerKey(identity.apiKey.header)) {
    add(
      report.issues,
      "ERR_SLUICE_TENANT_HEADER_RESERVED",
      "tenants.header",
      `"${tenants.header}" is the API-key header (identity.apiKey.header): the origin would read the tenant id as the client's key`,
    );
  }
  const lists = readLists(report, root);
  const limits = readAppLimits(report, root);
  const rules = readRules(report, root);
  const alerts = readAlerts(report, root);
  checkTenantLimits(report, rules, plans, tenants);
  checkProtection(report, { rules, limits, lists, tenants });
  if (report.issues.length === 0) warnUnreachable(report, rules);
  if (report.issues.length > 0) {
    return { ok: false, issues: report.issues, warnings: report.warnings };
  }
  const policy: Policy = {
    version,
    prefix,
    identity,
    rules,
    limits,
    lists,
    plans,
    tenants,
    headers,
    log,
    store,
    origin,
    alerts,
  };
  return { ok: true, policy, warnings: report.warnings };
}

/**
 * Drops a top-level `$schema` after checking it is a string: it only points editors at the JSON
 * Schema, so it changes neither the defaulted policy nor its hash.
 */
function withoutSchemaRef(report: Report, raw: unknown): unknown {
  if (!isObject(raw) || !Object.hasOwn(raw, "$schema")) return raw;
  const { $schema, ...rest } = raw;
  if (typeof $schema !== "string") {
    typeError(report, "$schema", "a string (where the policy's JSON Schema is)", $schema);
  }
  return rest;
}

function readIdentity(report: Report, value: unknown): IdentityConfig {
  const obj = readOptionalObject(report, value, "identity", IDENTITY_FIELDS);
  const ipObj = readOptionalObject(report, obj?.ip, "identity.ip", IP_FIELDS);
  const keyObj = readOptionalObject(report, obj?.apiKey, "identity.apiKey", API_KEY_FIELDS);

  const source = readEnum(
    report,
    ipObj,
    "identity.ip",
    "source",
    ["cf-connecting-ip", "x-forwarded-for"] as const,
    "cf-connecting-ip",
  );
  const trustedHops = readInt(
    report,
    ipObj,
    "identity.ip",
    "trustedHops",
    1,
    Number.MAX_SAFE_INTEGER,
    DEFAULTS.trustedHops,
  );
  const ipv6Subnet = readInt(
    report,
    ipObj,
    "identity.ip",
    "ipv6Subnet",
    1,
    128,
    DEFAULTS.ipv6Subnet,
  );

  if (source === "x-forwarded-for") {
    // Everything left of our own proxies in X-Forwarded-For is written by the client.
    add(
      report.warnings,
      "WARN_SLUICE_XFF_TRUSTED",
      "identity.ip.source",
      `the client IP is read from X-Forwarded-For, ${trustedHops} hop(s) from the right; this is safe only if exactly ${trustedHops} proxies you control append to it, otherwise clients can choose their own IP`,
    );
  } else if (ipObj?.trustedHops !== undefined) {
    add(
      report.warnings,
      "WARN_SLUICE_TRUSTED_HOPS_IGNORED",
      "identity.ip.trustedHops",
      'trustedHops is only used with source "x-forwarded-for"; it is ignored with "cf-connecting-ip"',
    );
  }
  if (ipv6Subnet < 32 || ipv6Subnet > 64) {
    add(
      report.warnings,
      "WARN_SLUICE_IPV6_SUBNET",
      "identity.ip.ipv6Subnet",
      `IPv6 clients are keyed by /${ipv6Subnet}, outside /32–/64: shorter prefixes lump many customers together, longer ones let one site rotate through many keys`,
    );
  }

  let header = readString(report, keyObj, "identity.apiKey", "header", DEFAULTS.apiKeyHeader);
  if (header !== "" && !TOKEN.test(header)) {
    add(report.issues, "ERR_SLUICE_HEADER_SYNTAX", "identity.apiKey.header", headerMessage(header));
    header = DEFAULTS.apiKeyHeader;
  }
  const bearer = readBoolean(report, keyObj, "identity.apiKey", "bearer", true);
  return {
    ip: { source, trustedHops, ipv6Subnet },
    apiKey: { header: header.toLowerCase(), bearer },
  };
}

function readRules(report: Report, root: Obj): Rule[] {
  const list = readList(report, root, "", "rules", "rule");
  const rules: Rule[] = [];
  const names = new Map<string, string>();
  for (const [i, value] of list.entries()) {
    const path = `rules[${i}]`;
    const rule = readRule(report, value, path);
    if (rule === undefined) continue;
    if (rule.name !== "") {
      const first = names.get(rule.name);
      if (first !== undefined) {
        add(
          report.issues,
          "ERR_SLUICE_RULE_NAME_DUPLICATE",
          `${path}.name`,
          `rule name ${describe(rule.name)} is already used by ${first}; names must be unique because they are part of store keys`,
        );
      } else {
        names.set(rule.name, path);
      }
    }
    rules.push(rule);
  }
  return rules;
}

function readRule(report: Report, value: unknown, path: string): Rule | undefined {
  const obj = readObject(report, value, path, RULE_FIELDS, "an object (a rule)");
  if (obj === undefined) return undefined;

  let name = readRequiredString(report, obj, path, "name");
  if (name !== "" && !RULE_NAME.test(name)) {
    add(
      report.issues,
      "ERR_SLUICE_RULE_NAME_SYNTAX",
      `${path}.name`,
      `expected a lower-case letter or digit, then lower-case letters, digits, "_" or "-" (it is part of store keys), got ${describe(name)}`,
    );
    name = "";
  }

  const matchPath = `${path}.match`;
  let pattern = "*";
  let methods: string[] | null = null;
  if (obj.match === undefined) {
    add(
      report.issues,
      "ERR_SLUICE_REQUIRED",
      matchPath,
      'expected "match" like {"path": "/api/*"}',
    );
  } else {
    const match = readObject(
      report,
      obj.match,
      matchPath,
      MATCH_FIELDS,
      'an object like {"path": "/api/*"}',
    );
    if (match !== undefined) {
      pattern = readRequiredString(report, match, matchPath, "path");
      const problem = pattern === "" ? undefined : checkPathPattern(pattern);
      if (problem !== undefined) {
        add(report.issues, "ERR_SLUICE_PATH_SYNTAX", `${matchPath}.path`, problem);
      }
      methods = readMethods(report, match.methods, `${matchPath}.methods`);
    }
  }

  const limits = readLimits(report, obj, path);
  const onStoreError = readEnum(
    report,
    obj,
    path,
    "onStoreError",
    ["local", "allow", "deny"] as const,
    "local",
  );
  const mode = readEnum(report, obj, path, "mode", ["enforce", "shadow"] as const, "enforce");
  const countRejected = readBoolean(report, obj, path, "countRejected", false);
  const countStatus = readCountStatus(report, obj.countStatus, `${path}.countStatus`);
  return {
    name,
    match: { methods, path: pattern },
    limits,
    onStoreError,
    mode,
    countRejected,
    countStatus,
    ...readThrottle(report, obj, path, limits),
    adaptive: readAdaptive(report, obj.adaptive, `${path}.adaptive`),
    ...readRuleProtection(report, obj, path),
  };
}

const STATUS_PATTERN = /^[1-5](xx|\d\d)$/;

/** `["4xx", "503"]`: admitted requests whose response is not listed get their cost back. */
function readCountStatus(report: Report, value: unknown, path: string): string[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value) || value.length === 0) {
    typeError(report, path, 'a non-empty list like ["4xx"]', value);
    return null;
  }
  const out: string[] = [];
  value.forEach((item, i) => {
    if (typeof item === "string" && STATUS_PATTERN.test(item.toLowerCase())) {
      out.push(item.toLowerCase());
    } else {
      add(
        report.issues,
        "ERR_SLUICE_STATUS_SYNTAX",
        `${path}[${i}]`,
        `expected a status class like "4xx" or a status code like "401", got ${describe(item)}`,
      );
    }
  });
  return out;
}

function readMethods(report: Report, value: unknown, path: string): string[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value)) {
    typeError(report, path, 'a list of methods like ["GET", "POST"]', value);
    return null;
  }
  if (value.length === 0) {
    add(
      report.issues,
      "ERR_SLUICE_EMPTY",
      path,
      'expected at least one method; leave out "methods" to match every method',
    );
    return null;
  }
  const methods: string[] = [];
  for (const [i, item] of value.entries()) {
    const itemPath = `${path}[${i}]`;
    if (typeof item !== "string") {
      typeError(report, itemPath, 'a method name like "GET"', item);
      continue;
    }
    if (!TOKEN.test(item)) {
      add(
        report.issues,
        "ERR_SLUICE_METHOD_SYNTAX",
        itemPath,
        `expected one HTTP method token like "GET", got ${describe(item)}`,
      );
      continue;
    }
    const upper = item.toUpperCase();
    if (methods.includes(upper)) {
      add(
        report.issues,
        "ERR_SLUICE_METHOD_DUPLICATE",
        itemPath,
        `method ${describe(upper)} is listed twice`,
      );
      continue;
    }
    methods.push(upper);
  }
  return methods;
}

function warnUnreachable(report: Report, rules: Rule[]): void {
  const firsts = firstShadows(rules.map((rule) => rule.match));
  for (const [j, later] of rules.entries()) {
    const i = firsts[j] ?? -1;
    const earlier = rules[i];
    if (earlier === undefined) continue;
    add(
      report.warnings,
      "WARN_SLUICE_RULE_UNREACHABLE",
      `rules[${j}].match`,
      `rule ${describe(later.name)} can never match: rules[${i}] (${describe(earlier.name)}) comes first and matches all of its requests`,
    );
  }
}
