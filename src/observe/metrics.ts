/** @module observe/metrics — per-isolate counters, histograms and gauges with bounded label sets, handed out as deltas for the store to add up. */

/** Histogram bucket bounds for latencies, in ms (rendered in seconds). */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];

/** Label value every tenant or subject past the cap is counted under. */
export const OVERFLOW = "other";

/** What one metric family is, for the exposition's TYPE/HELP/UNIT lines. */
export interface Family {
  type: "counter" | "histogram" | "gauge";
  help: string;
  unit?: "seconds" | "ratio";
}

/**
 * Every family Sluice exposes. Names follow the Prometheus/OpenMetrics
 * conventions: base units (seconds), `_total` added to counters on output.
 */
export const FAMILIES = {
  sluice_requests: {
    type: "counter",
    help: "Decisions by rule, outcome and tenant (the decision log's outcome), and by policy side under a canary.",
  },
  sluice_limit_checks: {
    type: "counter",
    help: "Limit checks by rule, limit and result (allowed or denied).",
  },
  sluice_store_degraded_seconds: {
    type: "counter",
    help: "Isolate-seconds during which store calls failed (summed over isolates).",
    unit: "seconds",
  },
  sluice_store_latency_seconds: {
    type: "histogram",
    help: "Time the limit store took to decide, by store kind.",
    unit: "seconds",
  },
  sluice_origin_latency_seconds: {
    type: "histogram",
    help: "Time the origin took to send its response headers, by rule.",
    unit: "seconds",
  },
  sluice_tenant_quota_used_ratio: {
    type: "gauge",
    help: "Share of a tenant's limit used at its latest decision (1 = exhausted).",
    unit: "ratio",
  },
  sluice_limited_subject_recent: {
    type: "gauge",
    help: "Denials per limited subject within the last hour (top subjects; the rest as other).",
  },
  sluice_adaptive_factor: {
    type: "gauge",
    help: "The adaptive factor last applied to a rule's rates (1 = as written).",
  },
  sluice_telemetry_dropped: {
    type: "counter",
    help: "Spans, alerts or metric deltas dropped because a bounded queue was full.",
  },
} as const satisfies Record<string, Family>;

export type FamilyName = keyof typeof FAMILIES;

/**
 * What an isolate hands the store at a flush. Field names are
 * `<family>|<part>|<labels>` (`part`: `total`, `count`, `sum_us`, `le=<ms>`,
 * `value`), labels in exposition form (`rule="api",tenant="acme"`).
 */
export interface Deltas {
  /** Added to the aggregate (HINCRBY). */
  add: Map<string, number>;
  /** Replace the aggregate's value: gauges, as `<value>@<until ms>` (last writer wins). */
  set: Map<string, string>;
  /** Added to the recent-subjects aggregate, which forgets itself after an hour. */
  subjects: Map<string, number>;
}

export interface MetricsOptions {
  /** Distinct tenants labelled per isolate between flushes; later ones count as `other`. */
  maxTenants: number;
  /** Distinct limited subjects per isolate between flushes; later ones count as `other`. */
  maxSubjects: number;
  /** Fields held between flushes at most (a store that cannot be reached costs bounded memory). */
  maxFields: number;
}

export const METRICS_DEFAULTS: MetricsOptions = {
  maxTenants: 100,
  maxSubjects: 200,
  maxFields: 5000,
};

/**
 * One isolate's metrics since its last flush. Every method is synchronous
 * and allocation-light: it runs after the decision, never before it.
 *
 * @example
 * const m = new Metrics();
 * m.count("sluice_requests", { rule: "api", outcome: "allowed", tenant: m.tenant("acme") });
 * m.observe("sluice_store_latency_seconds", { store: "redis" }, 3);
 * const deltas = m.take(); // the store adds these up
 */
export class Metrics {
  readonly options: MetricsOptions;
  #add = new Map<string, number>();
  #set = new Map<string, string>();
  #subjects = new Map<string, number>();
  readonly #tenants = new Set<string>();
  /** Deltas dropped because the pending maps were full. */
  dropped = 0;

  constructor(options: Partial<MetricsOptions> = {}) {
    this.options = { ...METRICS_DEFAULTS, ...options };
  }

  /** The tenant's label value: itself while under the cap, else `other`. */
  tenant(id: string | undefined): string {
    if (!id) return "";
    if (this.#tenants.has(id)) return id;
    if (this.#tenants.size >= this.options.maxTenants) return OVERFLOW;
    this.#tenants.add(id);
    return id;
  }

  /** Adds `n` to a counter. */
  count(family: FamilyName, labels: Labels, n = 1): void {
    this.#bump(this.#add, field(family, "total", labels), n);
  }

  /** Adds `ms` to a counter of seconds (kept in whole ms, so stores add integers). */
  countMs(family: FamilyName, labels: Labels, ms: number): void {
    this.#bump(this.#add, field(family, "total_ms", labels), Math.round(ms));
  }

  /** Records one latency in ms into a histogram. */
  observe(family: FamilyName, labels: Labels, ms: number): void {
    const bound = LATENCY_BUCKETS_MS.find((b) => ms <= b);
    this.#bump(this.#add, field(family, `le=${bound ?? "+Inf"}`, labels), 1);
    this.#bump(this.#add, field(family, "count", labels), 1);
    this.#bump(this.#add, field(family, "sum_us", labels), Math.round(ms * 1000));
  }

  /** Sets a gauge, valid until `untilMs` (then it reads as absent). */
  gauge(family: FamilyName, labels: Labels, value: number, untilMs: number): void {
    const key = field(family, "value", labels);
    if (!this.#set.has(key) && this.#full()) {
      this.dropped++;
      return;
    }
    this.#set.set(key, `${value}@${Math.round(untilMs)}`);
  }

  /** Counts a denial of `subject` under `rule`, for the top-limited view. */
  limited(rule: string, subject: string): void {
    const capped =
      this.#subjects.size >= this.options.maxSubjects &&
      !this.#subjects.has(field("sluice_limited_subject_recent", "value", { rule, subject }))
        ? OVERFLOW
        : subject;
    const key = field("sluice_limited_subject_recent", "value", { rule, subject: capped });
    this.#subjects.set(key, (this.#subjects.get(key) ?? 0) + 1);
  }

  /** Nothing to flush? */
  get empty(): boolean {
    return this.#add.size === 0 && this.#set.size === 0 && this.#subjects.size === 0;
  }

  /** Hands over everything since the last take and starts afresh (the tenant cap too). */
  take(): Deltas {
    const taken = { add: this.#add, set: this.#set, subjects: this.#subjects };
    this.#tenants.clear();
    this.#add = new Map();
    this.#set = new Map();
    this.#subjects = new Map();
    return taken;
  }

  /** Puts back deltas a flush could not deliver (newer gauges win; past the cap they are dropped). */
  restore(deltas: Deltas): void {
    for (const [k, n] of deltas.add) this.#bump(this.#add, k, n);
    for (const [k, n] of deltas.subjects) this.#bump(this.#subjects, k, n);
    for (const [k, v] of deltas.set) {
      if (!this.#set.has(k) && !this.#full()) this.#set.set(k, v);
    }
  }

  #full(): boolean {
    return this.#add.size + this.#set.size + this.#subjects.size >= this.options.maxFields;
  }

  #bump(map: Map<string, number>, key: string, n: number): void {
    const had = map.get(key);
    if (had === undefined && this.#full()) {
      this.dropped++;
      return;
    }
    map.set(key, (had ?? 0) + n);
  }
}

export type Labels = Readonly<Record<string, string>>;

/**
 * The store field of one series part. Labels are sorted, so the same series
 * is one field whichever isolate writes it.
 *
 * @example
 * field("sluice_requests", "total", { rule: "api", outcome: "denied" });
 * // 'sluice_requests|total|outcome="denied",rule="api"'
 */
export function field(family: FamilyName, part: string, labels: Labels): string {
  // Each family is always given the same label names in the same order, so
  // its label values name the series: walking nested maps by them finds the
  // field without building, sorting or escaping a string (the values come from
  // the policy and the log line, so their hashes are already cached).
  let node = (memoRoot.get(family) as Memo | undefined) ?? branch(memoRoot, family);
  node = (node.get(part) as Memo | undefined) ?? branch(node, part);
  for (const name in labels) {
    const value = labels[name] ?? "";
    node = (node.get(value) as Memo | undefined) ?? branch(node, value);
  }
  const known = node.get(LEAF);
  if (typeof known === "string") return known;
  const built = buildField(family, part, labels);
  node.set(LEAF, built);
  return built;
}

type Memo = Map<string | symbol, Memo | string>;
const LEAF = Symbol("field");
let memoRoot: Memo = new Map();
let memoNodes = 0;
/** Nodes held at most: a flood of label values only costs rebuilding. */
const MAX_MEMO = 20_000;

function branch(parent: Memo, key: string): Memo {
  if (++memoNodes > MAX_MEMO) {
    memoRoot = new Map();
    memoNodes = 0;
  }
  const child: Memo = new Map();
  parent.set(key, child);
  return child;
}

function buildField(family: FamilyName, part: string, labels: Labels): string {
  // An empty value is no label at all (Prometheus reads them the same).
  const names = Object.keys(labels)
    .filter((n) => labels[n] !== "")
    .sort();
  const text = names.map((n) => `${n}="${escapeLabel(labels[n] ?? "")}"`).join(",");
  return `${family}|${part}|${text}`;
}

/**
 * Label values escape `\`, `"` and newlines (OpenMetrics 1.0 §"ABNF", Prometheus text format).
 *
 * @example
 * escapeLabel('a"b'); // 'a\\"b'
 */
export function escapeLabel(value: string): string {
  if (!/[\\"\n]/.test(value)) return value;
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
