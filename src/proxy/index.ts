/** @module proxy — forwards a permitted request to the origin, streaming both ways. */

/** Hop-by-hop fields (RFC 9110 §7.6.1) never travel past a proxy. */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

export interface ForwardOptions {
  /** Validated absolute http(s) origin; its path is a base prefix. */
  origin: URL;
  /**
   * The path to ask the origin for: the canonical path the rules were
   * matched on (see identity/canonical.ts). Default: the request's own.
   */
  path?: string;
  /** Origin must send response headers within this time, else 504. */
  timeoutMs: number;
  /**
   * Address to add to X-Forwarded-For ("" when unknown): the client's, or,
   * appending to a trusted chain, the peer that sent the request to us.
   */
  forwardedFor: string;
  /** Keep the client's X-Forwarded-For chain and append to it (only when it came from trusted hops). */
  appendForwardedFor: boolean;
  /** Request header names to drop before forwarding (lower-case). */
  dropHeaders?: readonly string[];
  /** Request headers to set after dropping (e.g. the resolved tenant). */
  setHeaders?: Readonly<Record<string, string>>;
}

/** The origin could not be reached (502) or was too slow (504). */
export class OriginError extends Error {
  override readonly name = "OriginError";
  readonly status: 502 | 504;
  constructor(message: string, status: 502 | 504, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

/**
 * Builds the upstream URL from the configured origin and only the path and
 * query of the request. The request's own scheme, host, absolute-form target
 * or Host header never take part, so a request cannot pick its destination.
 *
 * @example
 * upstreamUrl(new URL("https://api.internal/v1"), new URL("https://edge/x?y=1")).href
 * // "https://api.internal/v1/x?y=1"
 */
export function upstreamUrl(origin: URL, incoming: URL, path = incoming.pathname): URL {
  const base = origin.pathname.endsWith("/") ? origin.pathname.slice(0, -1) : origin.pathname;
  // String concatenation, not URL resolution: "//evil.example/x" stays a path.
  const target = new URL(`${origin.origin}${base}${path}${incoming.search}`);
  if (target.origin !== origin.origin) {
    throw new OriginError("request path would leave the origin", 502);
  }
  return target;
}

/**
 * Forwards `req` to the origin. Bodies are streamed, never buffered; redirects
 * are passed back to the client, not followed.
 *
 * @example
 * const res = await forward(c.req.raw, { origin, timeoutMs: 30_000, clientIp, appendForwardedFor: false });
 */
export async function forward(req: Request, options: ForwardOptions): Promise<Response> {
  const incoming = new URL(req.url);
  const target = upstreamUrl(options.origin, incoming, options.path);
  const headers = requestHeaders(req.headers, incoming, options);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  const hasBody = req.body !== null && req.method !== "GET" && req.method !== "HEAD";
  let res: Response;
  try {
    res = await fetch(target, {
      method: req.method,
      headers,
      body: hasBody ? req.body : null,
      redirect: "manual",
      signal: controller.signal,
    });
  } catch (err) {
    if (controller.signal.aborted) {
      throw new OriginError(`origin sent no response within ${options.timeoutMs} ms`, 504, {
        cause: err,
      });
    }
    throw new OriginError("origin unreachable", 502, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  return new Response(res.body, {
    status: res.status,
    statusText: res.statusText,
    headers: stripHopByHop(new Headers(res.headers)),
  });
}

function requestHeaders(src: Headers, incoming: URL, options: ForwardOptions): Headers {
  const headers = stripHopByHop(new Headers(src));
  headers.delete("host");
  for (const name of options.dropHeaders ?? []) headers.delete(name);
  for (const [name, value] of Object.entries(options.setHeaders ?? {})) headers.set(name, value);
  // De-facto X-Forwarded-* fields (RFC 7239 §1 describes their role); a
  // client-sent chain is kept only when it came through trusted hops.
  const prior = options.appendForwardedFor ? src.get("x-forwarded-for") : null;
  const chain = [prior, options.forwardedFor].filter((v): v is string => Boolean(v)).join(", ");
  if (chain) headers.set("x-forwarded-for", chain);
  else headers.delete("x-forwarded-for");
  headers.set("x-forwarded-proto", incoming.protocol.replace(":", ""));
  // Informational only: the destination never depends on it.
  headers.set("x-forwarded-host", src.get("host") ?? incoming.host);
  return headers;
}

function stripHopByHop(headers: Headers): Headers {
  const listed = (headers.get("connection") ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const name of [...HOP_BY_HOP, ...listed]) headers.delete(name);
  return headers;
}
