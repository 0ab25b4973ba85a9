/** @module observe/setup — env → one isolate's observer: metrics and where they are added up, span export, Analytics Engine, alerts. */
import type { Policy } from "../policy/types.ts";
import { MemoryMetricsStore } from "../stores/memory/metrics-store.ts";
import { Flusher, type MetricsStore } from "./aggregate.ts";
import { type Alert, AlertWatch } from "./alerts.ts";
import { AnalyticsWriter, sampleRate } from "./analytics.ts";
import { logConfigWarnings } from "./index.ts";
import { Metrics } from "./metrics.ts";
import { type EventListener, Observer, type RequestListener } from "./observer.ts";
import { parseOtlpHeaders, SpanExporter } from "./otlp.ts";
import { Webhook } from "./webhook.ts";

/** How often an isolate sends its metric deltas, at most. */
export const FLUSH_EVERY_MS = 5_000;

/** The env an observer reads (see README "Observability"). */
export interface ObserveEnv {
  /** `"1"` or `"true"`: no metrics (nothing counted, nothing flushed). */
  SLUICE_METRICS_OFF?: string;
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

/** Listeners built elsewhere (alerts), and where metrics are added up (the runtime's backend). */
export interface ObserverExtras {
  /** Defaults to this isolate's memory (the middleware off the gateway). */
  metricsStore?: MetricsStore;
  listeners?: RequestListener[];
  eventListeners?: EventListener[];
}

/**
 * Builds the isolate's observer. Metrics are added up in `extras.metricsStore`
 * (the runtime's backend: Redis, or the `SluiceMetrics` Durable Object), else
 * (the middleware off the gateway) in this isolate alone.
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
  // Alerts are claimed where metrics are added up, so isolates tell an episode once.
  const alerts = policy.alerts
    ? new AlertWatch(policy.alerts, webhook(env), logAlert, extras.metricsStore)
    : undefined;
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
    const store = extras.metricsStore ?? new MemoryMetricsStore();
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
