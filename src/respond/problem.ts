/** @module respond/problem — RFC 9457 problem details responses and the gateway's HTTP errors. */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Decision } from "../limiter/types.ts";
import { addHeaders, type Header, retryAfterSeconds } from "./headers.ts";

/** Base of Sluice's problem type URIs; each type is documented at its URI. */
export const PROBLEM_BASE = "https://sluice.dev/problems/";

/** The problem types Sluice emits (RFC 9457 §3.1.1). */
export const ProblemType = {
  rateLimited: `${PROBLEM_BASE}rate-limited`,
  storeUnavailable: `${PROBLEM_BASE}store-unavailable`,
  unauthorized: `${PROBLEM_BASE}unauthorized`,
  keyAttempts: `${PROBLEM_BASE}too-many-key-attempts`,
  forbidden: `${PROBLEM_BASE}forbidden`,
  denyListed: `${PROBLEM_BASE}deny-listed`,
  originUnreachable: `${PROBLEM_BASE}origin-unreachable`,
  originTimeout: `${PROBLEM_BASE}origin-timeout`,
  originPaused: `${PROBLEM_BASE}origin-paused`,
  policyInvalid: `${PROBLEM_BASE}policy-invalid`,
  pathRefused: `${PROBLEM_BASE}path-not-canonical`,
  adminBadRequest: `${PROBLEM_BASE}admin-bad-request`,
  adminNotFound: `${PROBLEM_BASE}admin-not-found`,
  adminConflict: `${PROBLEM_BASE}admin-conflict`,
  // RFC 9457 §4.2.1: no extra semantics beyond the status code.
  blank: "about:blank",
} as const;

/** Members of a problem object; `status` is taken from the response status. */
export interface ProblemFields {
  type: string;
  title: string;
  detail: string;
  [extra: string]: unknown;
}

// Reason phrases (RFC 9110 §15) for the statuses Sluice or Hono may raise.
const TITLES: Partial<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

const MAX_POLICY_LINES = 20;

/**
 * An RFC 9457 problem details response: `application/problem+json` (§3) and
 * `cache-control: no-store`, since an error or a 429 must not be replayed from
 * a cache. `status` in the body always equals the response status (§3.1.2).
 * Values are JSON-encoded, never spliced in as text.
 *
 * @example
 * problem(404, { type: "about:blank", title: "Not Found", detail: "No route." });
 */
export function problem(
  status: ContentfulStatusCode,
  fields: ProblemFields,
  headers?: HeadersInit,
): Response {
  const { type, title, detail, status: _ignored, ...extra } = fields;
  const body = JSON.stringify({ type, title, status, detail, ...extra });
  const h = new Headers(headers);
  h.set("content-type", "application/problem+json");
  h.set("cache-control", "no-store");
  return new Response(body, { status, headers: h });
}

/**
 * 429 (RFC 6585 §4) for a rule whose limits denied the request. Carries
 * `Retry-After` (RFC 9110 §10.2.3) and, in the body, `rule`, `retryAfter` (the
 * same seconds) and `violated-policies` (the ids of the denying limits in
 * `decision`, the member draft-ietf-httpapi-ratelimit-headers-11 §5.1 defines).
 * The RateLimit fields are left to the caller (`rateLimitHeaders`), which adds
 * them to every limited response alike.
 *
 * @example
 * throw tooManyRequests({ rule: "login", retryAfterMs: 4200, decision });
 * // 429, Retry-After: 5, detail: 'Too many requests for rule "login"; retry in 5 seconds.'
 */
export function tooManyRequests(args: {
  rule: string;
  retryAfterMs: number;
  decision?: Decision;
}): SluiceHttpError {
  const retryAfter = retryAfterSeconds(args.retryAfterMs);
  const violated = args.decision?.limits.filter((l) => !l.allowed).map((l) => l.id) ?? [];
  return fail(
    429,
    {
      type: ProblemType.rateLimited,
      title: "Too Many Requests",
      detail: `Too many requests for rule ${JSON.stringify(args.rule)}; retry in ${seconds(retryAfter)}.`,
      rule: args.rule,
      retryAfter,
      "violated-policies": violated,
    },
    { "retry-after": String(retryAfter) },
  );
}

/**
 * 401 with a `WWW-Authenticate` challenge (RFC 9110 §11.6.1). The `Bearer`
 * scheme (RFC 6750 §3) is the one clients know; the key may also come in the
 * configured API-key header. No `error` parameter: RFC 6750 §3.1 says to omit it
 * when the request carried no credentials, and we do not say which case it was.
 *
 * @example
 * throw unauthorized("An API key is required."); // 401, WWW-Authenticate: Bearer realm="sluice"
 */
export function unauthorized(detail: string, realm = "sluice"): SluiceHttpError {
  const quoted = realm.replace(/[\\"]/g, "\\$&");
  return fail(
    401,
    { type: ProblemType.unauthorized, title: "Unauthorized", detail },
    { "www-authenticate": `Bearer realm="${quoted}"` },
  );
}

/**
 * 429 for an address locked out after too many unknown or revoked keys; the
 * lockout ends at `Retry-After` (RFC 9110 §10.2.3). No `rule`: the lockout is
 * Sluice's own counter, not a policy rule a client could look up.
 *
 * @example
 * keyAttemptsLocked(6000); // 429, Retry-After: 6
 */
export function keyAttemptsLocked(retryAfterMs: number, credential = "API keys"): SluiceHttpError {
  const retryAfter = retryAfterSeconds(retryAfterMs);
  return fail(
    429,
    {
      type: ProblemType.keyAttempts,
      title: "Too Many Requests",
      detail: `Too many requests with invalid ${credential} from this address; retry in ${seconds(retryAfter)}.`,
      retryAfter,
    },
    { "retry-after": String(retryAfter) },
  );
}

/**
 * 403 (RFC 9110 §15.5.4): the key is valid but its tenant may not pass
 * (disabled, or on a plan the policy no longer offers).
 *
 * @example
 * forbidden("The tenant is disabled.");
 */
export function forbidden(detail: string): SluiceHttpError {
  return fail(403, { type: ProblemType.forbidden, title: "Forbidden", detail });
}

/**
 * 403 (RFC 9110 §15.5.4) for a client on a deny list, before any rule. Which
 * list is for the log only: the client learns nothing about the lists.
 *
 * @example
 * denyListed(); // 403 application/problem+json
 */
export function denyListed(): SluiceHttpError {
  return fail(403, {
    type: ProblemType.denyListed,
    title: "Forbidden",
    detail: "Requests from this client are refused.",
  });
}

/**
 * 503 when the limit store failed and the rule says `onStoreError: "deny"`;
 * `Retry-After: 1` because store hiccups are short.
 *
 * @example
 * storeUnavailable("api"); // 503, Retry-After: 1
 */
export function storeUnavailable(rule: string): SluiceHttpError {
  return fail(
    503,
    {
      type: ProblemType.storeUnavailable,
      title: "Service Unavailable",
      detail: `The rate limiter for rule ${JSON.stringify(rule)} is temporarily unavailable; retry in 1 second.`,
      rule,
      retryAfter: 1,
    },
    { "retry-after": "1" },
  );
}

/**
 * 502 (RFC 9110 §15.6.3): the origin could not be reached.
 *
 * @example
 * badGateway("The origin refused the connection.");
 */
export function badGateway(detail: string): SluiceHttpError {
  return fail(502, { type: ProblemType.originUnreachable, title: "Bad Gateway", detail });
}

/**
 * 504 (RFC 9110 §15.6.5): the origin did not answer within `origin.timeoutMs`.
 *
 * @example
 * gatewayTimeout("The origin did not answer within 30 s.");
 */
export function gatewayTimeout(detail: string): SluiceHttpError {
  return fail(504, { type: ProblemType.originTimeout, title: "Gateway Timeout", detail });
}

/**
 * 500 for a configuration that failed validation (the policy or the
 * environment), so it never serves traffic silently. `fields` name each
 * problem by code and field (`ERR_SLUICE_RATE_UNIT at rules[0].limits[0].rate`),
 * never its value: anyone can read this answer, and values may be secrets.
 * At most 20 are sent to keep the body small; the log has the full messages.
 *
 * @example
 * policyInvalid(["ERR_SLUICE_RATE_UNIT at rules[0].limits[0].rate", "ERR_SLUICE_ORIGIN_URL at ORIGIN_URL"]);
 */
export function policyInvalid(fields: readonly string[]): SluiceHttpError {
  const shown = fields.slice(0, MAX_POLICY_LINES);
  const more = fields.length - shown.length;
  const suffix = more > 0 ? `; and ${more} more` : "";
  return fail(500, {
    type: ProblemType.policyInvalid,
    title: "Invalid Policy",
    detail: `The gateway's configuration is invalid (the log says why): ${shown.join("; ")}${suffix}.`,
    errors: shown,
  });
}

/**
 * 400 (RFC 9110 §15.5.1) for a path origins could read in more than one way
 * (README "Canonical path"): Sluice will neither match nor forward it.
 *
 * @example
 * badPath('an encoded "/" or "\\" (%2F, %5C)');
 */
export function badPath(reason: string): SluiceHttpError {
  return fail(400, {
    type: ProblemType.pathRefused,
    title: "Bad Request",
    detail: `The request path has ${reason}; send it in its plain form.`,
  });
}

/**
 * 404 for unknown `/__sluice/` paths.
 *
 * @example
 * notFound(); // 404 application/problem+json
 */
export function notFound(): SluiceHttpError {
  return fail(404, {
    type: ProblemType.blank,
    title: "Not Found",
    detail: "No such resource.",
  });
}

/** The problem as the exception that carries it: the one convention for every constructor here. */
function fail(status: ContentfulStatusCode, fields: ProblemFields, headers?: HeadersInit) {
  return new SluiceHttpError(problem(status, fields, headers));
}

/**
 * A request-time failure that already carries its response (STYLE.md: handlers
 * throw, one `app.onError` answers via `toResponse`).
 *
 * @example
 * throw new SluiceHttpError(problem(418, { type: "about:blank", title: "I'm a teapot", detail: "…" }));
 */
export class SluiceHttpError extends HTTPException {
  override readonly name = "SluiceHttpError";

  constructor(res: Response, options?: { message?: string; cause?: unknown }) {
    super(res.status as ContentfulStatusCode, {
      res,
      message: options?.message ?? `${res.status} ${TITLES[res.status] ?? "Error"}`,
      cause: options?.cause,
    });
    this.#res = res;
  }

  readonly #res: Response;

  /**
   * Adds fields to the carried response (Sluice's own RateLimit fields,
   * Server-Timing) and returns this error, ready to throw.
   *
   * @example
   * throw storeUnavailable("api").withHeaders([["Server-Timing", "sluice-store;dur=250"]]);
   */
  withHeaders(headers: readonly Header[]): this {
    addHeaders(this.#res.headers, headers);
    return this;
  }
}

/**
 * Turns anything thrown into a response, for the single `app.onError`:
 * `SluiceHttpError` → its response; another `HTTPException` → its own response
 * if it has one (e.g. Hono's auth middleware), else a problem for its status;
 * anything else → a generic 500. Error messages are never echoed, since they may
 * contain request data.
 *
 * @example
 * app.onError((err) => toResponse(err));
 */
export function toResponse(err: unknown): Response {
  if (err instanceof HTTPException) {
    if (err.res) return err.getResponse();
    const status = err.status;
    const title = TITLES[status] ?? "Error";
    return problem(status, {
      type: ProblemType.blank,
      title,
      detail: `The request failed: ${title}.`,
    });
  }
  return problem(500, {
    type: ProblemType.blank,
    title: "Internal Server Error",
    detail: "An unexpected error occurred.",
  });
}

/**
 * 400 from the admin API, naming the offending field.
 *
 * @example
 * throw badRequest("plan", 'unknown plan "gold"');
 */
export function badRequest(field: string, message: string): SluiceHttpError {
  const detail = field ? `${field}: ${message}` : message;
  return fail(400, { type: ProblemType.adminBadRequest, title: "Bad Request", detail, field });
}

/**
 * 404 from the admin API for an unknown tenant, key or resource.
 *
 * @example
 * throw missing('Tenant "acme"'); // detail: 'Tenant "acme" does not exist.'
 */
export function missing(what: string): SluiceHttpError {
  return fail(404, {
    type: ProblemType.adminNotFound,
    title: "Not Found",
    detail: `${what} does not exist.`,
  });
}

/**
 * 405 (RFC 9110 §15.5.6) from the admin API: the resource exists, not with
 * this method. `Allow` (§10.2.1) is required on a 405 and lists the methods it takes.
 *
 * @example
 * throw notAllowed("DELETE", ["GET", "HEAD", "POST"]);
 */
export function notAllowed(method: string, allow: readonly string[]): SluiceHttpError {
  return fail(
    405,
    {
      type: ProblemType.blank,
      title: "Method Not Allowed",
      detail: `This admin resource does not take ${method}; it takes ${allow.join(", ")}.`,
    },
    { allow: allow.join(", ") },
  );
}

/**
 * 409 (RFC 9110 §15.5.10): creating something that exists, or a write that lost a race.
 *
 * @example
 * throw conflict('Tenant "acme" exists.');
 */
export function conflict(detail: string): SluiceHttpError {
  return fail(409, { type: ProblemType.adminConflict, title: "Conflict", detail });
}

/**
 * 503 when a store behind the admin API did not answer (or the API is off).
 * For a write, `mayHaveApplied` says whether the change may have happened
 * (the store call was sent but its answer never came) and `target` what it
 * touched, so the caller reads it back instead of blindly retrying.
 *
 * @example
 * throw unavailable("The store did not answer: timeout.", { mayHaveApplied: true, target: "key:89ae…" });
 */
export function unavailable(
  detail: string,
  write?: { mayHaveApplied: boolean; target?: string },
): SluiceHttpError {
  const said = write
    ? write.mayHaveApplied
      ? " The change may have been applied: read it back before retrying."
      : " Nothing was changed."
    : "";
  return fail(
    503,
    {
      type: ProblemType.storeUnavailable,
      title: "Service Unavailable",
      detail: `${detail}${said}`,
      ...(write ?? {}),
    },
    { "retry-after": "1" },
  );
}

/**
 * 503 (RFC 9110 §15.6.4) while an adaptive rule's origin asked for a pause
 * with its own 503 and `Retry-After`: the origin is spared the request, and
 * the client told when the pause ends (RFC 9110 §10.2.3).
 *
 * @example
 * throw originPaused("api", 30_000); // 503, Retry-After: 30
 */
export function originPaused(rule: string, retryAfterMs: number): SluiceHttpError {
  const retryAfter = retryAfterSeconds(retryAfterMs);
  return fail(
    503,
    {
      type: ProblemType.originPaused,
      title: "Service Unavailable",
      detail: `The origin behind rule ${JSON.stringify(rule)} asked for a pause; retry in ${seconds(retryAfter)}.`,
      rule,
      retryAfter,
    },
    { "retry-after": String(retryAfter) },
  );
}

/**
 * The client went away while its request was held for its turn (a delaying
 * rule): nobody reads this answer, but it is still problem+json, never a 500.
 *
 * @example
 * throw abandoned("api");
 */
export function abandoned(rule: string): SluiceHttpError {
  return fail(503, {
    type: ProblemType.blank,
    title: "Service Unavailable",
    detail: `The client went away while its request for rule ${JSON.stringify(rule)} was held.`,
  });
}

function seconds(n: number): string {
  return n === 1 ? "1 second" : `${n} seconds`;
}
