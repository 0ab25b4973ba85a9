/** @module observe/exposition — the aggregated metrics as OpenMetrics 1.0 text, or the Prometheus text format 0.0.4 for older scrapers. */
import { FAMILIES, type Family, type FamilyName, LATENCY_BUCKETS_MS, OVERFLOW } from "./metrics.ts";

/** Every isolate's flushed deltas added up, as the store returns them. */
export interface Aggregate {
  add: Record<string, number>;
  set: Record<string, string>;
  subjects: Record<string, number>;
}

/** OpenMetrics 1.0 (`application/openmetrics-text`); what Prometheus asks for first. */
export const OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/** The Prometheus text format 0.0.4, for scrapers that do not ask for OpenMetrics. */
export const PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Limited subjects shown per rule; the rest are summed into `other`. */
const TOP_SUBJECTS = 20;

/** One sample line's parts before formatting. */
interface Sample {
  suffix: string;
  labels: string;
  value: number;
}

/**
 * Renders the aggregate. `openMetrics` picks the flavour: OpenMetrics names a
 * counter family without `_total` and ends with `# EOF` (OpenMetrics 1.0
 * §"Counter", §"Overall structure"); the 0.0.4 text format names the family
 * by its sample. Gauges past their expiry are left out.
 *
 * @example
 * renderMetrics({ add: { 'sluice_requests|total|rule="api"': 3 }, set: {}, subjects: {} }, Date.now(), true);
 * // "# TYPE sluice_requests counter\n…sluice_requests_total{rule=\"api\"} 3\n# EOF\n"
 */
export function renderMetrics(agg: Aggregate, nowMs: number, openMetrics: boolean): string {
  const byFamily = new Map<string, Sample[]>();
  const push = (family: string, sample: Sample) => {
    const list = byFamily.get(family) ?? [];
    list.push(sample);
    byFamily.set(family, list);
  };
  const histograms = new Map<string, Map<string, number>>();
  for (const [key, value] of Object.entries(agg.add)) {
    const [family, part, labels = ""] = key.split("|", 3) as [string, string, string?];
    if (part === "total") push(family, { suffix: "_total", labels, value });
    else if (part === "total_ms") push(family, { suffix: "_total", labels, value: value / 1000 });
    else {
      const series = `${family}|${labels}`;
      const parts = histograms.get(series) ?? new Map<string, number>();
      parts.set(part, (parts.get(part) ?? 0) + value);
      histograms.set(series, parts);
    }
  }
  for (const [series, parts] of histograms) {
    const [family, labels = ""] = series.split("|", 2) as [string, string?];
    for (const sample of histogramSamples(labels, parts)) push(family, sample);
  }
  for (const [key, raw] of Object.entries(agg.set)) {
    const [family, , labels = ""] = key.split("|", 3) as [string, string, string?];
    const [value, until] = raw.split("@");
    if (Number(until) < nowMs || value === undefined || !Number.isFinite(Number(value))) continue;
    push(family, { suffix: "", labels, value: Number(value) });
  }
  for (const sample of topSubjects(agg.subjects)) push("sluice_limited_subject_recent", sample);

  const out: string[] = [];
  for (const [name, family] of Object.entries(FAMILIES) as [FamilyName, Family][]) {
    const samples = byFamily.get(name);
    if (!samples?.length) continue;
    out.push(...header(name, family, openMetrics));
    samples.sort((a, b) => order(a, b));
    for (const s of samples) {
      const labels = s.labels ? `{${s.labels}}` : "";
      out.push(`${name}${s.suffix}${labels} ${formatNumber(s.value)}`);
    }
  }
  if (openMetrics) out.push("# EOF");
  return `${out.join("\n")}\n`;
}

function header(name: string, family: Family, openMetrics: boolean): string[] {
  // The 0.0.4 format names a counter by its sample (`_total`); OpenMetrics by its family.
  const named = !openMetrics && family.type === "counter" ? `${name}_total` : name;
  const lines = [`# HELP ${named} ${family.help}`, `# TYPE ${named} ${family.type}`];
  if (openMetrics && "unit" in family && family.unit) lines.push(`# UNIT ${named} ${family.unit}`);
  return lines;
}

/** Cumulative buckets in seconds, then `_sum` (seconds) and `_count` (OpenMetrics 1.0 §"Histogram"). */
function histogramSamples(labels: string, parts: Map<string, number>): Sample[] {
  const join = (extra: string) => (labels ? `${labels},${extra}` : extra);
  const samples: Sample[] = [];
  let cumulative = 0;
  for (const bound of LATENCY_BUCKETS_MS) {
    cumulative += parts.get(`le=${bound}`) ?? 0;
    samples.push({
      suffix: "_bucket",
      labels: join(`le="${formatNumber(bound / 1000)}"`),
      value: cumulative,
    });
  }
  const count = parts.get("count") ?? cumulative + (parts.get("le=+Inf") ?? 0);
  samples.push({ suffix: "_bucket", labels: join('le="+Inf"'), value: count });
  samples.push({ suffix: "_sum", labels, value: (parts.get("sum_us") ?? 0) / 1e6 });
  samples.push({ suffix: "_count", labels, value: count });
  return samples;
}

/** The most limited subjects of each rule; the others summed as one `other` series. */
function topSubjects(subjects: Record<string, number>): Sample[] {
  const byRule = new Map<string, Array<{ subject: string; n: number }>>();
  for (const [key, n] of Object.entries(subjects)) {
    const labels = key.split("|", 3)[2] ?? "";
    const rule = /rule="((?:[^"\\]|\\.)*)"/.exec(labels)?.[1] ?? "";
    const subject = /subject="((?:[^"\\]|\\.)*)"/.exec(labels)?.[1] ?? OVERFLOW;
    const list = byRule.get(rule) ?? [];
    list.push({ subject, n });
    byRule.set(rule, list);
  }
  const samples: Sample[] = [];
  for (const [rule, list] of byRule) {
    list.sort((a, b) => b.n - a.n || (a.subject < b.subject ? -1 : 1));
    let other = 0;
    for (const [i, { subject, n }] of list.entries()) {
      if (i < TOP_SUBJECTS && subject !== OVERFLOW) {
        samples.push({ suffix: "", labels: `rule="${rule}",subject="${subject}"`, value: n });
      } else other += n;
    }
    if (other > 0) {
      samples.push({ suffix: "", labels: `rule="${rule}",subject="${OVERFLOW}"`, value: other });
    }
  }
  return samples;
}

/** Samples of a family in a stable order: by labels, histogram parts in bucket order. */
function order(a: Sample, b: Sample): number {
  const series = (s: Sample) => s.labels.replace(/,?le="[^"]*"/, "");
  const sa = series(a);
  const sb = series(b);
  if (sa !== sb) return sa < sb ? -1 : 1;
  const rank = (s: Sample) =>
    s.suffix === "_bucket" ? bucketRank(s.labels) : s.suffix === "_sum" ? 1e9 : 1e9 + 1;
  return rank(a) - rank(b);
}

function bucketRank(labels: string): number {
  const le = /le="([^"]*)"/.exec(labels)?.[1];
  return le === "+Inf" ? 1e8 : Number(le);
}

/** JavaScript's shortest round-trip form: valid in both formats (no `1e+21`: counts never get there). */
function formatNumber(n: number): string {
  return String(n);
}
