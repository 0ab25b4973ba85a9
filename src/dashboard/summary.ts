/** @module dashboard/summary — the aggregated metrics reduced to what the dashboard shows: counts by rule and outcome, top limited subjects, tenants nearest their quotas, store latency. */
import type { Aggregate } from "../observe/exposition.ts";
import { LATENCY_BUCKETS_MS } from "../observe/metrics.ts";

/** What `/__sluice/dashboard/data` answers, besides bans and lists. */
export interface Summary {
  /** Cumulative decisions: rule → outcome → count (the page turns deltas into rates). */
  requests: Record<string, Record<string, number>>;
  /** Most limited subjects within the last hour, most first. */
  limited: Array<{ rule: string; subject: string; denials: number }>;
  /** Tenants' limits, most used first. */
  quotas: Array<{ tenant: string; rule: string; limit: string; used: number }>;
  /** Per store kind: latency percentiles (ms, bucket upper bounds) and degraded time. */
  stores: Array<{
    store: string;
    calls: number;
    p50Ms: number;
    p99Ms: number;
    degradedSeconds: number;
  }>;
  /** Adaptive factors by rule, when any rule has one. */
  adaptive: Record<string, number>;
}

/**
 * Reduces the aggregate for the page.
 *
 * @example
 * summarize(await metrics.aggregate(), Date.now()).requests.api?.denied; // 3
 */
export function summarize(agg: Aggregate, nowMs: number): Summary {
  const requests: Summary["requests"] = {};
  const buckets = new Map<string, Map<string, number>>();
  const degraded = new Map<string, number>();
  for (const [key, n] of Object.entries(agg.add)) {
    const [family, part, text = ""] = key.split("|", 3) as [string, string, string?];
    const labels = parseLabels(text);
    if (family === "sluice_requests") {
      const rule = labels.rule ?? "";
      const outcome = labels.outcome ?? "";
      const row = requests[rule] ?? {};
      row[outcome] = (row[outcome] ?? 0) + n;
      requests[rule] = row;
    } else if (family === "sluice_store_latency_seconds") {
      const store = labels.store ?? "";
      const parts = buckets.get(store) ?? new Map<string, number>();
      parts.set(part, (parts.get(part) ?? 0) + n);
      buckets.set(store, parts);
    } else if (family === "sluice_store_degraded_seconds") {
      const store = labels.store ?? "";
      degraded.set(store, (degraded.get(store) ?? 0) + n / 1000);
    }
  }
  const quotas: Summary["quotas"] = [];
  const adaptive: Summary["adaptive"] = {};
  for (const [key, raw] of Object.entries(agg.set)) {
    const [family, , text = ""] = key.split("|", 3) as [string, string, string?];
    const [value, until] = raw.split("@");
    if (Number(until) < nowMs) continue;
    const labels = parseLabels(text);
    if (family === "sluice_tenant_quota_used_ratio") {
      quotas.push({
        tenant: labels.tenant ?? "",
        rule: labels.rule ?? "",
        limit: labels.limit ?? "",
        used: Number(value),
      });
    } else if (family === "sluice_adaptive_factor") adaptive[labels.rule ?? ""] = Number(value);
  }
  quotas.sort((a, b) => b.used - a.used);
  const limited = Object.entries(agg.subjects)
    .map(([key, denials]) => {
      const labels = parseLabels(key.split("|", 3)[2] ?? "");
      return { rule: labels.rule ?? "", subject: labels.subject ?? "", denials };
    })
    .sort((a, b) => b.denials - a.denials);
  const stores = [...buckets].map(([store, parts]) => ({
    store,
    calls: parts.get("count") ?? 0,
    p50Ms: percentile(parts, 0.5),
    p99Ms: percentile(parts, 0.99),
    degradedSeconds: degraded.get(store) ?? 0,
  }));
  return { requests, limited: limited.slice(0, 20), quotas: quotas.slice(0, 20), stores, adaptive };
}

/** The bucket bound at which the cumulative count reaches `q` of all: an upper bound, in ms. */
function percentile(parts: Map<string, number>, q: number): number {
  const total = parts.get("count") ?? 0;
  if (total === 0) return 0;
  let seen = 0;
  for (const bound of LATENCY_BUCKETS_MS) {
    seen += parts.get(`le=${bound}`) ?? 0;
    if (seen >= q * total) return bound;
  }
  return Number.POSITIVE_INFINITY;
}

/** `a="1",b="x\"y"` → `{ a: "1", b: 'x"y' }`, undoing `escapeLabel`. */
function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
    const [, name, value] = m;
    if (name !== undefined && value !== undefined) {
      out[name] = value.replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
    }
  }
  return out;
}
