/** @module proxy — forwards a permitted request to the origin, streaming both ways. */
import { BoundedMap } from "../util/bounded-map.ts";
import { HOP_BY_HOP_KEYS, headerKey, isManagedHeader } from "../util/header-name.ts";

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
  /** Request header names to drop before forwarding, in every spelling (see `headerKey`). */
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
  // A final status is 200–599 here (RFC 9110 §15): 1xx are interim, and a 101
  // switch cannot be relayed through fetch. Anything else is a broken origin.
  if (res.status < 200 || res.status > 599) {
    await res.body?.cancel();
    throw new OriginError(`origin answered with status ${res.status}`, 502);
  }
  return new Response(res.body, {
    status: res.status,
    statusText: res.statusText,
    headers: responseHeaders(res.headers),
  });
}

/**
 * The headers the origin gets, built in one pass over the client's: no
 * hop-by-hop or managed field, nothing `dropHeaders` names, in any spelling.
 * Exported for `npm run bench:hot-path`, which prices it.
 *
 * @example
 * requestHeaders(req.headers, new URL(req.url), { origin, timeoutMs: 30_000, forwardedFor: "203.0.113.7", appendForwardedFor: false });
 */
export function requestHeaders(src: Headers, incoming: URL, options: ForwardOptions): Headers {
  const nominated = nominatedBy(src);
  const drop = options.dropHeaders?.length ? new Set(options.dropHeaders.map(keyOf)) : undefined;
  const headers = new Headers();
  for (const [name, value] of src) {
    const key = keyOf(name);
    if (name === "host" || HOP_BY_HOP_KEYS.has(key) || nominated?.has(key)) continue;
    if (managed(name, key) || drop?.has(key)) continue;
    headers.append(name, value);
  }
  for (const [name, value] of Object.entries(options.setHeaders ?? {})) headers.set(name, value);
  // De-facto X-Forwarded-* fields (RFC 7239 §1 describes their role); a
  // client-sent chain is kept only when it came through trusted hops.
  const prior = options.appendForwardedFor ? src.get("x-forwarded-for") : null;
  const chain = [prior, options.forwardedFor].filter((v): v is string => Boolean(v)).join(", ");
  if (chain) headers.set("x-forwarded-for", chain);
  headers.set("x-forwarded-proto", incoming.protocol.replace(":", ""));
  // Informational only: the destination never depends on it.
  headers.set("x-forwarded-host", src.get("host") ?? incoming.host);
  return headers;
}

/** A client-address or routing field in any spelling; the edge's own CF-Connecting-IP stays. */
function managed(name: string, key: string): boolean {
  if (key === "cf-connecting-ip") return name !== "cf-connecting-ip";
  return isManagedHeader(key);
}

/**
 * The origin's headers without hop-by-hop fields and those `Connection`
 * nominates, in every spelling; the same object when it has none (the usual
 * case: no copy). workerd's HTTP server keeps `Connection` from the Worker (kj
 * reads it as a connection-level field) and Cloudflare's edge rewrites it, so
 * there the nominated names cannot be known; where the field is visible
 * (Node, a Request built in code) they are dropped. Exported for
 * `npm run bench:hot-path`.
 *
 * @example
 * new Response(res.body, { status: res.status, headers: responseHeaders(res.headers) });
 */
export function responseHeaders(src: Headers): Headers {
  const nominated = nominatedBy(src);
  const hop = (name: string) => {
    const key = keyOf(name);
    return HOP_BY_HOP_KEYS.has(key) || nominated?.has(key) === true;
  };
  let any = false;
  for (const name of src.keys()) any ||= hop(name);
  if (!any) return src;
  const headers = new Headers(src);
  for (const name of [...headers.keys()]) if (hop(name)) headers.delete(name);
  return headers;
}

function nominatedBy(headers: Headers): Set<string> | undefined {
  const connection = headers.get("connection");
  if (!connection) return undefined;
  return new Set(
    connection
      .split(",")
      .map((s) => keyOf(s.trim()))
      .filter(Boolean),
  );
}

/** Header names repeat on every request: their keys are worked out once per isolate. */
const KEYS = new BoundedMap<string, string>(1024);

function keyOf(name: string): string {
  let key = KEYS.get(name);
  if (key === undefined) {
    key = headerKey(name);
    KEYS.set(name, key);
  }
  return key;
}
