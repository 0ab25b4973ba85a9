/** @module gateway/forward — the one place that decides what the origin sees, then forwards. */
import type { Context } from "hono";
import { canonicalOf } from "../identity/canonical.ts";
import { apiKeyCarriers } from "../identity/index.ts";
import { clientIp } from "../identity/ip.ts";
import { type TraceContext, traceparentOf } from "../observe/trace-context.ts";
import { forward } from "../proxy/index.ts";
import type { GatewayEnv } from "./env.ts";

/** The connecting peer's address, as Cloudflare's edge reports it. */
const PEER = { source: "cf-connecting-ip", trustedHops: 1, ipv6Subnet: 128 } as const;

/**
 * Forwards the request with the headers the origin may see: X-Forwarded-For
 * with the right address, the resolved tenant (never a client's copy), and
 * no issued key.
 *
 * @throws {OriginError} 502 when the origin is unreachable, 504 when it is too slow.
 */
export async function forwardToOrigin(c: Context<GatewayEnv>): Promise<Response> {
  const obs = c.get("observation");
  if (!obs) return forwardAs(c, {});
  const started = Date.now();
  try {
    return await forwardAs(c, traceHeaders(obs.trace));
  } finally {
    obs.originMs = Date.now() - started;
  }
}

/**
 * W3C Trace Context §3: the origin's parent is Sluice's span; `tracestate`
 * goes on unchanged with the trace it belongs to, and is dropped when Sluice
 * started a new trace (the client's then describes no trace of ours).
 */
function traceHeaders(trace: TraceContext): Record<string, string> {
  return {
    traceparent: traceparentOf(trace),
    ...(trace.traceState ? { tracestate: trace.traceState } : {}),
  };
}

function forwardAs(c: Context<GatewayEnv>, extra: Record<string, string>): Promise<Response> {
  const { origin, loaded } = c.var.runtime;
  const { identity, tenants } = loaded.policy;
  const tenantHeader = tenants.header;
  const seen = c.get("rateLimit")?.identity;
  const headers = c.req.raw.headers;
  const trustsChain = identity.ip.source === "x-forwarded-for";
  const tenant = seen?.tenant;
  const canonical = canonicalOf(c.req.raw);
  return forward(c.req.raw, {
    origin,
    // The path the rules were matched on, so the origin routes what was limited.
    ...("path" in canonical ? { path: canonical.path } : {}),
    timeoutMs: loaded.policy.origin.timeoutMs,
    // Each hop appends the address it received the request from: with a
    // trusted chain that is the proxy in front of us, not the client again.
    forwardedFor: trustsChain
      ? (clientIp(headers, PEER) ?? "")
      : // Matched routes already worked the address out; unmatched ones parse it here.
        (seen?.ip ?? clientIp(headers, identity.ip) ?? ""),
    appendForwardedFor: trustsChain,
    // The tenant header is ours alone: a client-sent copy never reaches the origin.
    // With issued keys the key is Sluice's credential, not the origin's: the
    // origin learns the tenant id and never sees the secret.
    dropHeaders: [
      tenantHeader,
      ...(tenants.enabled ? apiKeyCarriers(headers, identity.apiKey, tenants.keyPrefix) : []),
      ...(extra.traceparent ? ["tracestate"] : []),
    ],
    setHeaders: { ...extra, ...(tenant ? { [tenantHeader]: tenant } : {}) },
  });
}
