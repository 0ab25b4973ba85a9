/** @module observe/otlp — one span per request with the decision as attributes, batched and sent as OTLP/HTTP JSON off the hot path. */
import type { Context } from "hono";
import type { RateLimitInfo } from "../middleware/rate-limit/config.ts";
import type { Background, RequestListener } from "./observer.ts";
import type { RequestObservation } from "./request.ts";

/** OTLP `KeyValue` (opentelemetry-proto common.proto, JSON mapping). */
export interface OtlpAttribute {
  key: string;
  value:
    | { stringValue: string }
    | { intValue: string }
    | { boolValue: boolean }
    | { arrayValue: { values: Array<{ stringValue: string } | { intValue: string }> } };
}

/** OTLP `Span` in its JSON mapping: ids as lower-case hex, times as decimal strings of ns. */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  /** SPAN_KIND_SERVER. */
  kind: 2;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  /** STATUS_CODE_UNSET (0) or STATUS_CODE_ERROR (2). */
  status: { code: 0 | 2 };
}

export interface ExporterOptions {
  /** Spans waiting at most; past it new spans are dropped (and counted). */
  maxQueue: number;
  /** Spans per request to the collector at most. */
  maxBatch: number;
  /** A batch goes out when it is full or this long after the last one. */
  everyMs: number;
}

const DEFAULTS: ExporterOptions = { maxQueue: 2048, maxBatch: 256, everyMs: 2000 };

/**
 * Collects a span per sampled request and sends them in batches as OTLP/HTTP
 * with the JSON encoding (OTLP 1.x §"OTLP/HTTP", `POST <endpoint>` with
 * `Content-Type: application/json`). Each send runs in the `waitUntil` of the
 * request that filled the batch; a send that fails loses its batch (telemetry
 * never holds up or retries on the request path), counted in `dropped`.
 *
 * @example
 * const spans = new SpanExporter(new URL("https://collector:4318/v1/traces"), { authorization: "…" });
 */
export class SpanExporter implements RequestListener {
  readonly #endpoint: URL;
  readonly #headers: Record<string, string>;
  readonly #options: ExporterOptions;
  /** Spans as OTLP JSON text. */
  #queue: string[] = [];
  #lastSentMs = 0;
  #sending = 0;
  dropped = 0;

  constructor(
    endpoint: URL,
    headers: Record<string, string>,
    options: Partial<ExporterOptions> = {},
  ) {
    this.#endpoint = endpoint;
    this.#headers = headers;
    this.#options = { ...DEFAULTS, ...options };
  }

  finished(
    obs: RequestObservation,
    c: Context,
    info: { status: number; endedMs: number },
    background: Background,
  ): void {
    // The caller's sampled flag decides (W3C Trace Context §3.2.2.5); Sluice samples the traces it starts.
    if (!obs.trace.sampled) return;
    if (this.#queue.length >= this.#options.maxQueue) {
      this.dropped++;
      return;
    }
    this.#queue.push(spanJson(obs, c, info));
    const due = info.endedMs - this.#lastSentMs >= this.#options.everyMs;
    if (this.#queue.length >= this.#options.maxBatch || due) background(this.flush(info.endedMs));
  }

  /** Sends what is queued (one request per `maxBatch` spans, at most two in flight). */
  async flush(nowMs: number): Promise<void> {
    if (this.#sending >= 2 || this.#queue.length === 0) return;
    this.#lastSentMs = nowMs;
    const batch = this.#queue.splice(0, this.#options.maxBatch);
    this.#sending++;
    try {
      const res = await fetch(this.#endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.#headers },
        body: otlpBody(batch),
      });
      await res.body?.cancel();
      if (!res.ok) this.dropped += batch.length;
    } catch {
      this.dropped += batch.length;
    } finally {
      this.#sending--;
    }
  }
}

/**
 * `ExportTraceServiceRequest` around spans already in JSON (opentelemetry-proto
 * trace_service.proto): one resource (`service.name` = `sluice`), one scope.
 *
 * @example
 * otlpBody([spanJson(obs, c, info)]); // '{"resourceSpans":[{"resource":…,"scopeSpans":[{"scope":…,"spans":[…]}]}]}'
 */
export function otlpBody(spans: readonly string[]): string {
  const resource = '{"attributes":[{"key":"service.name","value":{"stringValue":"sluice"}}]}';
  return `{"resourceSpans":[{"resource":${resource},"scopeSpans":[{"scope":{"name":"sluice"},"spans":[${spans.join(",")}]}]}]}`;
}

/**
 * The request's span as OTLP JSON (an `OtlpSpan`): HTTP semantic-convention
 * attributes, and the decision as `sluice.*` attributes (rule, outcome,
 * limits with what each has left, the policy hash). Written as text, not
 * built as objects and stringified: it runs once per request.
 *
 * @example
 * const span: OtlpSpan = JSON.parse(spanJson(obs, c, { status: 429, endedMs: Date.now() }));
 */
export function spanJson(
  obs: RequestObservation,
  c: Context,
  info: { status: number; endedMs: number },
): string {
  const event = obs.event;
  const decided: RateLimitInfo | undefined = c.get("rateLimit");
  const limits = decided?.decision?.limits ?? [];
  const rule = decided?.rule ?? event?.rule;
  const attrs = [
    str("http.request.method", c.req.method),
    str("url.path", c.req.path),
    int("http.response.status_code", info.status),
  ];
  if (rule) attrs.push(str("sluice.rule", rule));
  if (event) {
    attrs.push(str("sluice.outcome", event.outcome), str("sluice.policy.hash", event.policyHash));
    attrs.push(int("sluice.store.duration_ms", event.storeMs));
    if (event.retryAfterMs) attrs.push(int("sluice.retry_after_ms", event.retryAfterMs));
    if (event.tenant) attrs.push(str("sluice.tenant", event.tenant));
    if (event.policy) attrs.push(str("sluice.policy", event.policy));
  }
  if (limits.length > 0) {
    const ids = limits.map((l) => `{"stringValue":${JSON.stringify(l.id)}}`).join(",");
    const left = limits.map((l) => `{"intValue":"${l.remaining}"}`).join(",");
    attrs.push(`{"key":"sluice.limits","value":{"arrayValue":{"values":[${ids}]}}}`);
    attrs.push(`{"key":"sluice.limits.remaining","value":{"arrayValue":{"values":[${left}]}}}`);
    attrs.push(int("sluice.remaining", Math.min(...limits.map((l) => l.remaining))));
  }
  if (obs.originMs !== undefined) attrs.push(int("sluice.origin.duration_ms", obs.originMs));
  const t = obs.trace;
  const parent = t.parentSpanId ? `"parentSpanId":"${t.parentSpanId}",` : "";
  const state = t.traceState ? `"traceState":${JSON.stringify(t.traceState)},` : "";
  const name = JSON.stringify(`${c.req.method} ${rule ?? "unmatched"}`);
  // OpenTelemetry HTTP server spans mark 5xx as errors, not 4xx (a 429 is an answer).
  const status = info.status >= 500 ? 2 : 0;
  return `{"traceId":"${t.traceId}","spanId":"${t.spanId}",${parent}${state}"name":${name},"kind":2,"startTimeUnixNano":"${obs.startedMs}000000","endTimeUnixNano":"${info.endedMs}000000","attributes":[${attrs.join(",")}],"status":{"code":${status}}}`;
}

/**
 * `SLUICE_OTLP_HEADERS` as `OTEL_EXPORTER_OTLP_HEADERS` writes them:
 * `name=value,name=value`, values percent-encoded.
 *
 * @example
 * parseOtlpHeaders("authorization=Bearer%20abc,x-team=edge"); // { authorization: "Bearer abc", "x-team": "edge" }
 */
export function parseOtlpHeaders(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (text ?? "").split(",")) {
    const at = pair.indexOf("=");
    if (at <= 0) continue;
    try {
      out[pair.slice(0, at).trim().toLowerCase()] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      // A malformed escape: the header is left out rather than sent garbled.
    }
  }
  return out;
}

function str(key: string, value: string): string {
  return `{"key":"${key}","value":{"stringValue":${JSON.stringify(value)}}}`;
}

/** OTLP JSON carries 64-bit integers as decimal strings (proto3 JSON mapping). */
function int(key: string, value: number): string {
  return `{"key":"${key}","value":{"intValue":"${Math.round(value)}"}}`;
}
