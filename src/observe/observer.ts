/** @module observe/observer — one isolate's observation: the sink wrapper that feeds metrics from decision lines, and the step around each request that times it, traces it and sends telemetry off the hot path. */
import type { Context, Next } from "hono";
import type { RateLimitInfo } from "../middleware/rate-limit/config.ts";
import { addToContext } from "../respond/headers.ts";
import type { Flusher, MetricsStore } from "./aggregate.ts";
import type { Aggregate } from "./exposition.ts";
import type { DecisionEvent, DecisionSink } from "./index.ts";
import type { Metrics } from "./metrics.ts";
import { currentObservation, type RequestObservation, withObservation } from "./request.ts";
import { traceOf } from "./trace-context.ts";

/** Outcomes that are a second line about an earlier decision, not a request of their own. */
const FOLLOW_UPS = new Set(["refunded", "refund-failed"]);
/** Outcomes that refuse the request for its limits (the top-limited view counts these). */
const LIMITED = new Set(["denied", "concurrency-denied", "banned", "key-locked"]);
/** Degraded store events further apart than this start a new degraded stretch. */
const DEGRADED_GAP_MS = 5_000;

/** Everything that listens to a finished request besides metrics. */
export interface RequestListener {
  /** Called once per request after its response is ready; must not block (queue, then send in `background`). */
  finished(
    obs: RequestObservation,
    c: Context,
    info: { status: number; endedMs: number },
    background: (work: Promise<unknown>) => void,
  ): void;
}

/** Listens to decision lines (alerts). */
export interface EventListener {
  decided(event: DecisionEvent, nowMs: number, background: Background): void;
}

export type Background = (work: Promise<unknown>) => void;

/** How much of one limit a tenant has used, after a decision. */
export interface QuotaUsage {
  tenant: string;
  rule: string;
  limit: string;
  /** Share of the limit's capacity used (1 = exhausted). */
  used: number;
  /** Until the limit has given everything back. */
  resetMs: number;
}

/** Told of each tenant's usage after its decisions (quota alerts). */
export interface QuotaWatch {
  quota(usage: QuotaUsage, nowMs: number, background: Background): void;
}

export interface ObserverParts {
  /** Per-isolate metrics; absent when `SLUICE_METRICS=off`. */
  metrics?: { registry: Metrics; store: MetricsStore; flusher: Flusher } | undefined;
  /** Span export, Analytics Engine… */
  listeners: RequestListener[];
  /** Alerts, and anything else that reads decision lines. */
  eventListeners: EventListener[];
  /** Quota alerts: told how near each tenant is to its limits. */
  quotaWatch?: QuotaWatch | undefined;
  /** The gateway's clock (decision time). */
  clock: () => number;
  /** Whether a trace Sluice starts is marked sampled (true when spans are exported). */
  sampleNewTraces: boolean;
}

/**
 * One isolate's observer. `sink` wraps the decision sink the middleware
 * logs to; `step` runs around the rest of the request. Neither awaits
 * anything: metrics are counted in memory, telemetry is sent in `waitUntil`.
 *
 * @example
 * const observer = new Observer({ listeners: [], eventListeners: [], clock: Date.now, sampleNewTraces: false });
 * app.use((c, next) => observer.step(c, next));
 */
export class Observer {
  readonly parts: ObserverParts;
  #degradedAt: number | undefined;

  constructor(parts: ObserverParts) {
    this.parts = parts;
  }

  /**
   * Wraps `inner`: each event gets its time and trace ids, is counted, and is
   * printed only when `printAllowed` or it is not a plain admission (the
   * policy's `log.allowed`; the middleware is given every event so metrics
   * see all of them). `fields` are added to every line (the canary's hashes).
   *
   * @example
   * const sink = observer.sink(consoleSink, policy.log.allowed, {});
   */
  sink(inner: DecisionSink, printAllowed: boolean, fields: Record<string, unknown>): DecisionSink {
    return (event) => {
      const obs = currentObservation();
      const nowMs = this.parts.clock();
      const line: DecisionEvent = {
        ...event,
        ...fields,
        at: new Date(nowMs).toISOString(),
        ...(obs ? { traceId: obs.trace.traceId, spanId: obs.trace.spanId } : {}),
      };
      if (obs && !FOLLOW_UPS.has(event.outcome)) obs.event = line;
      this.#count(line, nowMs);
      // Work a line starts belongs to its own request (workerd ties I/O to it).
      const background = obs?.background;
      if (background) {
        for (const l of this.parts.eventListeners) l.decided(line, nowMs, background);
      }
      if (event.outcome !== "allowed" || printAllowed) inner(line);
    };
  }

  /**
   * The observe step: takes the request's trace, runs the rest in its
   * context, then adds `sluice-origin` and `total` to `Server-Timing` (W3C
   * Server Timing §3) and hands the request to the listeners.
   *
   * @example
   * app.use(function observe(c, next) { return observer.step(c, next); });
   */
  async step(c: Context, next: Next): Promise<void> {
    const startedMs = Date.now();
    const trace = traceOf(
      c.req.header("traceparent"),
      c.req.header("tracestate"),
      this.parts.sampleNewTraces,
    );
    const background = backgroundOf(c);
    const obs: RequestObservation = { trace, startedMs, ...(background ? { background } : {}) };
    c.set("observation", obs);
    await withObservation(obs, next);
    const endedMs = Date.now();
    const timing: Array<[string, string]> = [];
    if (obs.originMs !== undefined)
      timing.push(["Server-Timing", `sluice-origin;dur=${obs.originMs}`]);
    timing.push(["Server-Timing", `total;dur=${endedMs - startedMs}`]);
    addToContext(c, timing);
    const metrics = this.parts.metrics;
    const info = c.get("rateLimit");
    if (metrics && obs.originMs !== undefined) {
      const rule = info?.rule ?? obs.event?.rule ?? "";
      metrics.registry.observe("sluice_origin_latency_seconds", { rule }, obs.originMs);
    }
    for (const usage of quotaUsages(info)) this.#quota(usage, background);
    if (!background) return;
    const finished = { status: c.res.status, endedMs };
    for (const l of this.parts.listeners) l.finished(obs, c, finished, background);
    // On the gateway's clock, like its decisions (tests inject one).
    metrics?.flusher.maybeFlush(this.parts.clock(), background);
  }

  /**
   * Every isolate's metrics added up, this isolate's pending deltas first
   * flushed; undefined when metrics are off.
   *
   * @throws when the metrics store cannot be read.
   */
  get metricsReader(): { aggregate(): Promise<Aggregate> } | undefined {
    const metrics = this.parts.metrics;
    if (!metrics) return undefined;
    return {
      aggregate: async () => {
        await metrics.flusher.flush(Date.now());
        return metrics.store.read(Date.now());
      },
    };
  }

  #count(event: DecisionEvent, nowMs: number): void {
    const registry = this.parts.metrics?.registry;
    if (!registry || FOLLOW_UPS.has(event.outcome)) return;
    const rule = event.rule;
    const tenant = registry.tenant(event.tenant);
    // `policy` is "" (no label) unless a canary splits the traffic.
    const policy = event.policy ?? "";
    // A held request is logged as allowed with its `delayedMs`; metrics name it.
    const outcome = event.outcome === "allowed" && event.delayedMs ? "delayed" : event.outcome;
    registry.count("sluice_requests", { rule, outcome, tenant, policy });
    for (const l of event.limits) {
      const result = l.allowed ? "allowed" : "denied";
      registry.count("sluice_limit_checks", { rule, limit: l.id, result });
    }
    if (event.store && event.limits.length > 0) {
      registry.observe("sluice_store_latency_seconds", { store: event.store }, event.storeMs);
    }
    if (LIMITED.has(event.outcome)) registry.limited(rule, subjectOf(event));
    if (event.storeError) {
      const last = this.#degradedAt;
      if (last !== undefined && nowMs - last <= DEGRADED_GAP_MS && nowMs > last) {
        registry.countMs("sluice_store_degraded_seconds", { store: event.store }, nowMs - last);
      }
      this.#degradedAt = nowMs;
    } else if (event.limits.length > 0) {
      this.#degradedAt = undefined;
    }
    // Adaptive rules state their factor on every line; it is shown for an hour after the last.
    if (event.factor !== undefined) {
      registry.gauge("sluice_adaptive_factor", { rule }, event.factor, nowMs + 3_600_000);
    }
  }

  /** A tenant's usage: a gauge (read as absent once the limit has refilled), and the quota alert. */
  #quota(usage: QuotaUsage, background: Background | undefined): void {
    const nowMs = this.parts.clock();
    const registry = this.parts.metrics?.registry;
    if (registry) {
      const labels = {
        tenant: registry.tenant(usage.tenant),
        rule: usage.rule,
        limit: usage.limit,
      };
      const used = Math.round(usage.used * 1000) / 1000;
      registry.gauge("sluice_tenant_quota_used_ratio", labels, used, nowMs + usage.resetMs);
    }
    if (background) this.parts.quotaWatch?.quota(usage, nowMs, background);
  }
}

/** Each limit of a tenant's decision, as a share of its capacity used. */
function quotaUsages(info: RateLimitInfo | undefined): QuotaUsage[] {
  const tenant = info?.identity.tenant;
  const decision = info?.decision;
  if (!tenant || !decision) return [];
  return decision.limits
    .filter((l) => l.burst > 0)
    .map((l) => ({
      tenant,
      rule: info.rule,
      limit: l.id,
      used: Math.min(1, Math.max(0, 1 - l.remaining / l.burst)),
      resetMs: l.resetMs,
    }));
}

/**
 * The subject a refusal limited, named as the admin API's `usage` takes it:
 * `tenant:<id>`, `key:<key id>`, `ip:<address>`, or the limit's `by`.
 */
function subjectOf(event: DecisionEvent): string {
  const by = event.limits.find((l) => !l.allowed)?.by ?? (event.keyId ? "apiKey" : "ip");
  if (by === "tenant" && event.tenant) return `tenant:${event.tenant}`;
  if (by === "apiKey" && event.keyId) return `key:${event.keyId}`;
  if (by === "ip" || by === "") return `ip:${event.ipKey}`;
  return by;
}

/** The request's `waitUntil`, or undefined where there is none (then nothing is sent). */
function backgroundOf(c: Context): Background | undefined {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}
