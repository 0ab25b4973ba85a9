/** @module observe/trace-context — W3C Trace Context (Level 1): reading `traceparent`/`tracestate`, and Sluice's own span in the trace. */

/** A request's place in a trace, with Sluice's own span id. */
export interface TraceContext {
  /** 32 lower-case hex digits, never all zero. */
  traceId: string;
  /** Sluice's span for this request: the parent the origin sees. */
  spanId: string;
  /** The caller's span, when the request came with a valid `traceparent`. */
  parentSpanId?: string;
  /** The caller's sampled flag, or Sluice's own choice for a trace it starts. */
  sampled: boolean;
  /** `tracestate` as received, passed on unchanged (W3C Trace Context §3.3). */
  traceState?: string;
}

// W3C Trace Context §3.2.2: version "-" trace-id "-" parent-id "-" trace-flags, lower-case hex.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** §3.3.1.1: at most 32 list members; 512 characters is the size a vendor must propagate. */
const MAX_TRACESTATE = 512;

/**
 * The trace a request belongs to: the caller's, when its `traceparent` is
 * valid (W3C Trace Context §3.2), else a new one. Either way Sluice takes a
 * new span id, the parent the origin will see. An invalid `traceparent`
 * starts a new trace and drops `tracestate` with it (§3.3: tracestate is
 * meaningless without its traceparent).
 *
 * @example
 * const t = traceOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=x", false);
 * t.traceId; // "4bf92f3577b34da6a3ce929d0e0e4736"; t.parentSpanId: "00f067aa0ba902b7"
 */
export function traceOf(
  traceparent: string | null | undefined,
  tracestate: string | null | undefined,
  sampleNew: boolean,
): TraceContext {
  const spanId = newId(8);
  const parent = parseTraceparent(traceparent);
  if (!parent) return { traceId: newId(16), spanId, sampled: sampleNew };
  const state = tracestate?.trim();
  return {
    traceId: parent.traceId,
    spanId,
    parentSpanId: parent.parentId,
    sampled: parent.sampled,
    ...(state && state.length <= MAX_TRACESTATE ? { traceState: state } : {}),
  };
}

/**
 * Parses `traceparent`. Version `ff` is invalid; a version above `00` may
 * carry more fields after the four it shares with `00`, which are ignored
 * (§3.2.4, "Versioning of traceparent"); version `00` must have exactly four.
 *
 * @example
 * parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
 * // { traceId: "4bf9…", parentId: "00f0…", sampled: true }
 */
export function parseTraceparent(
  header: string | null | undefined,
): { traceId: string; parentId: string; sampled: boolean } | undefined {
  const m = TRACEPARENT.exec(header?.trim() ?? "");
  if (!m) return undefined;
  const [, version, traceId, parentId, flags, rest] = m as unknown as string[];
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN || !traceId || !parentId) return undefined;
  // §3.2.2.5: bit 0 of trace-flags is "sampled".
  return { traceId, parentId, sampled: (Number.parseInt(flags ?? "0", 16) & 1) === 1 };
}

/**
 * The `traceparent` to send on: same trace, Sluice's span as the parent (version 00).
 *
 * @example
 * traceparentOf({ traceId: "4bf9…", spanId: "53995c3f42cd8ad8", sampled: true });
 * // "00-4bf9…-53995c3f42cd8ad8-01"
 */
export function traceparentOf(t: Pick<TraceContext, "traceId" | "spanId" | "sampled">): string {
  return `00-${t.traceId}-${t.spanId}-${t.sampled ? "01" : "00"}`;
}

/** Random bytes drawn in blocks: one `getRandomValues` per 170 requests, not two per request. */
const POOL = new Uint8Array(4096);
let poolAt = POOL.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** `bytes` random bytes as hex, never all zero (both ids forbid it). */
function newId(bytes: number): string {
  for (;;) {
    if (poolAt + bytes > POOL.length) {
      crypto.getRandomValues(POOL);
      poolAt = 0;
    }
    let hex = "";
    let any = 0;
    for (let i = 0; i < bytes; i++) {
      const b = POOL[poolAt++] ?? 0;
      any |= b;
      hex += HEX[b];
    }
    if (any !== 0) return hex;
  }
}
