/** @module observe/setup — env → one isolate's observer: metrics and where they are added up, span export, Analytics Engine, alerts. */
import type { Policy } from "../policy/types.ts";
import { createUpstashClient } from "../stores/redis/client.ts";
import {
  DurableObjectMetricsStore,
  Flusher,
  MemoryMetricsStore,
  type MetricsStore,
  RedisMetricsStore,
} from "./aggregate.ts";
import { type Alert, AlertWatch } from "./alerts.ts";
import { AnalyticsWriter, sampleRate } from "./analytics.ts";
import { logConfigWarnings } from "./index.ts";
import { Metrics } from "./metrics.ts";
import type { SluiceMetrics } from "./metrics-object.ts";
import { type EventListener, Observer, type RequestListener } from "./observer.ts";
import { parseOtlpHeaders, SpanExporter } from "./otlp.ts";
import { Webhook } from "./webhook.ts";

/** How often an isolate sends its metric deltas, at most. */
export const FLUSH_EVERY_MS = 5_000;
/** Time budget of one metrics flush or read (it never holds up a decision). */
const METRICS_TIMEOUT_MS = 1_000;

/** The env an observer reads (see README "Observability"). */
export interface ObserveEnv {
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  /** `"1"` or `"true"`: no metrics (nothing counted, nothing flushed). */
  SLUICE_METRICS_OFF?: string;
  /** The metrics object's namespace (wrangler.toml binds it). */
  SLUICE_METRICS?: DurableObjectNamespace<SluiceMetrics>;
  /** OTLP/HTTP traces endpoint, used as is (like `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). */
  SLUICE_OTLP_ENDPOINT?: string;
  /** `name=value,…` headers for it (like `OTEL_EXPORTER_OTLP_HEADERS`). */
  SLUICE_OTLP_HEADERS?: string;
  /** An Analytics Engine dataset binding. */
  SLUICE_ANALYTICS?: AnalyticsEngineDataset;
  SLUICE_ANALYTICS_SAMPLE_RATE?: string;
  /** Where alerts are POSTed, and the HMAC-SHA256 key that signs them. */
  SLUICE_ALERT_WEBHOOK_URL?: string;
  SLUICE_ALERT_WEBHOOK_SECRET?: string;
}

/** Listeners built elsewhere (alerts). */
export interface ObserverExtras {
  listeners?: RequestListener[];
  eventListeners?: EventListener[];
}

/**
 * Builds the isolate's observer. Metrics are added up where the limits
 * live: in Redis when the Upstash variables are set, else in the
 * `SluiceMetrics` Durable Object, else (no binding: the middleware off the
 * gateway) in this isolate alone.
 *
 * @example
 * const observer = buildObserver(env, policy, Date.now, {});
 */
export function buildObserver(
  env: ObserveEnv,
  policy: Policy,
  clock: () => number,
  extras: ObserverExtras,
): Observer {
  const off = env.SLUICE_METRICS_OFF === "1" || env.SLUICE_METRICS_OFF === "true";
  const listeners = [...(extras.listeners ?? [])];
  const eventListeners = [...(extras.eventListeners ?? [])];
  const alerts = policy.alerts ? new AlertWatch(policy.alerts, webhook(env), logAlert) : undefined;
  if (alerts) eventListeners.push(alerts);
  const spans = spanExporter(env);
  if (spans) listeners.push(spans);
  if (env.SLUICE_ANALYTICS) {
    listeners.push(
      new AnalyticsWriter(env.SLUICE_ANALYTICS, sampleRate(env.SLUICE_ANALYTICS_SAMPLE_RATE)),
    );
  }
  let metrics: ConstructorParameters<typeof Observer>[0]["metrics"];
  if (!off) {
    const registry = new Metrics();
    const store = metricsStore(env, policy.prefix);
    metrics = { registry, store, flusher: new Flusher(registry, store, FLUSH_EVERY_MS) };
  }
  return new Observer({
    metrics,
    listeners,
    eventListeners,
    quotaWatch: alerts,
    clock,
    // Traces Sluice starts are sampled when someone collects them.
    sampleNewTraces: spans !== undefined,
  });
}

/** The span exporter for `SLUICE_OTLP_ENDPOINT`; a malformed URL is reported once and exports nothing. */
function spanExporter(env: ObserveEnv): SpanExporter | undefined {
  const raw = env.SLUICE_OTLP_ENDPOINT?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new TypeError(url.protocol);
  } catch {
    logConfigWarnings([
      `WARN_SLUICE_OTLP_ENDPOINT: SLUICE_OTLP_ENDPOINT is not an http(s) URL, so no spans are exported: ${JSON.stringify(raw)}`,
    ]);
    return undefined;
  }
  return new SpanExporter(url, parseOtlpHeaders(env.SLUICE_OTLP_HEADERS));
}

function metricsStore(env: ObserveEnv, prefix: string): MetricsStore {
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = env;
  if (url && token) {
    const client = createUpstashClient(url, token, METRICS_TIMEOUT_MS, { raw: true });
    return new RedisMetricsStore(client, prefix);
  }
  if (env.SLUICE_METRICS) return new DurableObjectMetricsStore(env.SLUICE_METRICS, prefix);
  return new MemoryMetricsStore();
}

/** The alert webhook, when both its URL and its secret are set; anything else is reported once. */
function webhook(env: ObserveEnv): Webhook | undefined {
  const raw = env.SLUICE_ALERT_WEBHOOK_URL?.trim();
  if (!raw) return undefined;
  const secret = env.SLUICE_ALERT_WEBHOOK_SECRET ?? "";
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || secret.length < 16) {
    logConfigWarnings([
      "WARN_SLUICE_ALERT_WEBHOOK: alerts are logged but not POSTed: SLUICE_ALERT_WEBHOOK_URL must be an http(s) URL and SLUICE_ALERT_WEBHOOK_SECRET at least 16 characters",
    ]);
    return undefined;
  }
  return new Webhook(url, secret);
}

/** One `sluice.alert` JSON line per alert. */
function logAlert(alert: Alert): void {
  console.log(JSON.stringify(alert));
}
