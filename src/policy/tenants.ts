/** @module policy/tenants — reads named plans and the tenants section, and checks the limits that use them. */

import { reservedHeaderReason } from "../util/header-name.ts";
import { capacity, planRateProblem } from "./fit.ts";
import { formatPeriod, parseRate, type RateError } from "./rate.ts";
import type { RawTenants } from "./raw.ts";
import {
  add,
  describe,
  headerMessage,
  isObject,
  join,
  keysOf,
  type Obj,
  type Report,
  readInt,
  readOptionalObject,
  readString,
  TOKEN,
  typeError,
} from "./read.ts";
import type { PlanRate, Rate, Rule, TenantsConfig } from "./types.ts";

const TENANTS_FIELDS = keysOf<RawTenants>({
  header: true,
  cacheTtlSeconds: true,
  staleIfErrorSeconds: true,
  authFailures: true,
  keyPrefix: true,
  namespace: true,
});
/** Plan names and tenant ids: part of store keys and URLs. */
export const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Issued keys' prefixes: lower-case words, each ending in "_". */
export const KEY_PREFIX = /^[a-z][a-z0-9]*_([a-z0-9]+_)?$/;
/** Directory namespaces: they start every directory key. */
export const NAMESPACE = /^[a-z0-9_-]+$/;

/**
 * What an absent field of `tenants` reads as: the only place these defaults are written. The
 * gateway, the admin API and the middleware read them from the defaulted `Policy.tenants`.
 *
 * @example
 * TENANTS_DEFAULTS.header; // → "x-sluice-tenant"
 */
export const TENANTS_DEFAULTS = {
  header: "x-sluice-tenant",
  cacheTtlSeconds: 30,
  staleIfErrorSeconds: 60,
  authFailures: "10/min",
  keyPrefix: "sk_live_",
  namespace: "sluice-dir",
} as const satisfies Required<RawTenants>;

/**
 * Reads `plans`: each a rate string like `"5/s; 1000/day"`. A plan rate's id
 * is its period (`"1s"`, `"1d"`), so two rates of one plan need two periods.
 *
 * @example
 * readPlans(report, { plans: { free: "5/s; 1000/day" } }); // → { free: [{ id: "1s", … }, { id: "1d", … }] }
 */
export function readPlans(report: Report, root: Obj): Record<string, PlanRate[]> {
  const plans: Record<string, PlanRate[]> = {};
  if (root.plans === undefined) return plans;
  if (!isObject(root.plans)) {
    typeError(report, "plans", 'an object like {"free": "5/s; 1000/day"}', root.plans);
    return plans;
  }
  for (const [name, value] of Object.entries(root.plans)) {
    const path = join("plans", name);
    // Listed even when invalid, so limits using plans do not also report "no plans".
    plans[name] = [];
    if (!TENANT_ID.test(name)) {
      add(
        report.issues,
        "ERR_SLUICE_PLAN_NAME_SYNTAX",
        path,
        `expected a plan name of 1–64 lower-case letters, digits, "_" or "-", got ${describe(name)}`,
      );
      continue;
    }
    if (typeof value !== "string") {
      typeError(report, path, 'a rate string like "5/s; 1000/day"', value);
      continue;
    }
    const parsed = parseRate(value);
    if (!parsed.ok) {
      add(report.issues, parsed.error.code, path, parsed.error.message);
      continue;
    }
    const rates: PlanRate[] = [];
    for (const r of parsed.rates) {
      const id = formatPeriod(r.periodMs);
      if (rates.some((other) => other.id === id)) {
        add(
          report.issues,
          "ERR_SLUICE_PLAN_RATE_DUPLICATE",
          path,
          `two rates of plan ${describe(name)} have the period ${describe(id)}; a plan's rates are named by their periods, so each needs its own`,
        );
        continue;
      }
      rates.push({ id, count: r.count, periodMs: r.periodMs, burst: r.burst ?? r.count });
    }
    plans[name] = rates;
  }
  return plans;
}

/**
 * Reads `tenants`, applying every default. Its presence switches on issued keys (`enabled`): API
 * keys must then be known to the store (see the admin API), and limits may count by tenant.
 * Without it the same defaults apply, so the tenant header is still reserved and stripped.
 *
 * @example
 * readTenants(report, { tenants: {} }); // → { enabled: true, header: "x-sluice-tenant", cacheTtlMs: 30000, … }
 * readTenants(report, {}).enabled;      // → false
 */
export function readTenants(report: Report, root: Obj): TenantsConfig {
  const enabled = root.tenants !== undefined;
  const obj = readOptionalObject(report, root.tenants, "tenants", TENANTS_FIELDS);
  let header = readString(report, obj, "tenants", "header", TENANTS_DEFAULTS.header);
  if (!TOKEN.test(header)) {
    add(report.issues, "ERR_SLUICE_HEADER_SYNTAX", "tenants.header", headerMessage(header));
    header = TENANTS_DEFAULTS.header;
  }
  const reserved = reservedHeaderReason(header);
  if (reserved) {
    add(
      report.issues,
      "ERR_SLUICE_TENANT_HEADER_RESERVED",
      "tenants.header",
      `"${header}" cannot carry the tenant id to the origin: ${reserved}; keep the default "${TENANTS_DEFAULTS.header}" or pick a name of your own`,
    );
  }
  // 30 s at most: the README promises revocation within that.
  const ttl = readInt(
    report,
    obj,
    "tenants",
    "cacheTtlSeconds",
    0,
    30,
    TENANTS_DEFAULTS.cacheTtlSeconds,
  );
  // An hour at most: a key revoked just before an outage must not live on for long.
  const stale = readInt(
    report,
    obj,
    "tenants",
    "staleIfErrorSeconds",
    0,
    3600,
    TENANTS_DEFAULTS.staleIfErrorSeconds,
  );
  const failures = readString(
    report,
    obj,
    "tenants",
    "authFailures",
    TENANTS_DEFAULTS.authFailures,
  );
  const authFailures = oneRate(failures);
  if ("code" in authFailures) {
    add(report.issues, authFailures.code, "tenants.authFailures", authFailures.message);
  }
  const keyPrefix = readString(report, obj, "tenants", "keyPrefix", TENANTS_DEFAULTS.keyPrefix);
  if (!KEY_PREFIX.test(keyPrefix)) {
    add(
      report.issues,
      "ERR_SLUICE_KEY_PREFIX_SYNTAX",
      "tenants.keyPrefix",
      `expected lower-case words each ending in "_", like "sk_live_", got ${describe(keyPrefix)}`,
    );
  }
  const namespace = readString(report, obj, "tenants", "namespace", TENANTS_DEFAULTS.namespace);
  if (!NAMESPACE.test(namespace)) {
    add(
      report.issues,
      "ERR_SLUICE_PREFIX_SYNTAX",
      "tenants.namespace",
      `expected lower-case letters, digits, "_" or "-" (it starts every directory key), got ${describe(namespace)}`,
    );
  }
  return {
    enabled,
    namespace,
    header: header.toLowerCase(),
    cacheTtlMs: ttl * 1000,
    staleIfErrorMs: stale * 1000,
    authFailures: "code" in authFailures ? DEFAULT_AUTH_FAILURES : authFailures,
    keyPrefix,
  };
}

/** Exactly one rate, its burst defaulting to its count; or why `text` is not that. */
function oneRate(text: string): Rate | RateError {
  const parsed = parseRate(text);
  if (!parsed.ok) return parsed.error;
  const [only] = parsed.rates;
  if (only === undefined || parsed.rates.length !== 1) {
    return {
      code: "ERR_SLUICE_RATE_SYNTAX",
      message: `expected one rate like "10/min", got ${parsed.rates.length}`,
    };
  }
  return { count: only.count, periodMs: only.periodMs, burst: only.burst ?? only.count };
}

/**
 * `TENANTS_DEFAULTS.authFailures` as a rate. The admin API also admits this many wrong admin
 * tokens per address before locking it out.
 *
 * @example
 * DEFAULT_AUTH_FAILURES; // → { count: 10, periodMs: 60000, burst: 10 }
 */
export const DEFAULT_AUTH_FAILURES: Readonly<Rate> = Object.freeze(
  oneRate(TENANTS_DEFAULTS.authFailures) as Rate, // the default parses: tests pin its value
);

/**
 * Checks the limits that depend on tenants: `by: "tenant"` and `rate: "plan"`
 * need the `tenants` section (and plans), every plan rate must admit the
 * limit's cost, and a plan rate's id must not clash with the rule's other limits.
 */
export function checkTenantLimits(
  report: Report,
  rules: readonly Rule[],
  plans: Record<string, PlanRate[]>,
  tenants: TenantsConfig,
): void {
  rules.forEach((rule, i) => {
    rule.limits.forEach((limit, j) => {
      const path = `rules[${i}].limits[${j}]`;
      if ((limit.by.kind === "tenant" || limit.fromPlan) && !tenants.enabled) {
        add(
          report.issues,
          "ERR_SLUICE_TENANTS_MISSING",
          limit.fromPlan ? `${path}.rate` : `${path}.by`,
          `${limit.fromPlan ? 'rate "plan"' : 'by "tenant"'} needs issued keys; add a "tenants" section (it may be empty: {})`,
        );
      }
      if (!limit.fromPlan) return;
      if (limit.by.kind !== "tenant" && limit.by.kind !== "apiKey") {
        add(
          report.issues,
          "ERR_SLUICE_PLAN_SUBJECT",
          `${path}.by`,
          `a plan's rates belong to a tenant; count them by "tenant" or "apiKey", not ${describe(limit.by.kind)}`,
        );
      }
      const names = Object.keys(plans);
      if (names.length === 0) {
        add(
          report.issues,
          "ERR_SLUICE_PLANS_MISSING",
          `${path}.rate`,
          'rate "plan" needs plans, like "plans": {"free": "5/s; 1000/day"}',
        );
      }
      for (const name of names) {
        for (const r of plans[name] ?? []) {
          const id = `${limit.id}-${r.id}`;
          const { what, room } = capacity(limit.algorithm, r);
          if (limit.cost > room) {
            add(
              report.issues,
              "ERR_SLUICE_COST_EXCEEDS_BURST",
              `${path}.cost`,
              `cost ${limit.cost} is larger than ${what} ${room} of plan ${describe(name)} rate ${describe(r.id)}, so that plan could never admit a request; raise the ${what} or lower the cost`,
            );
          } else {
            const problem = planRateProblem(limit, r);
            if (problem) {
              add(
                report.issues,
                problem.code,
                join("plans", name),
                `rate ${describe(r.id)} cannot serve the ${limit.algorithm} limit at ${path}: ${problem.message}`,
              );
            }
          }
          if (rule.limits.some((other) => other !== limit && other.id === id)) {
            add(
              report.issues,
              "ERR_SLUICE_LIMIT_ID_DUPLICATE",
              `${path}.rate`,
              `plan ${describe(name)} makes limit id ${describe(id)}, which another limit of this rule already has; set "name" to tell them apart`,
            );
          }
        }
      }
    });
  });
}
