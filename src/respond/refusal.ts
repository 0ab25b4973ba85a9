/** @module respond/refusal — a rule's own refusal (`rules[].response`): its status, extra headers, and a JSON body with placeholders filled. */
import type { RefusalSpec } from "../policy/types.ts";
import { retryAfterSeconds } from "./headers.ts";
import { ProblemType, problem } from "./problem.ts";

/** What the placeholders of a refusal body stand for, for one refused request. */
export interface RefusalValues {
  rule: string;
  /** The refusing limits' ids, comma-separated; `ban` for a ban. */
  limit: string;
  retryAfterMs: number;
  /** The tenant, or "" when the request has none. */
  tenant: string;
}

/** Is this a refusal other than the plain 429 problem+json? */
export function isCustomRefusal(spec: RefusalSpec): boolean {
  return spec.status !== 429 || spec.body !== null || Object.keys(spec.headers).length > 0;
}

/**
 * The rule's refusal. Without a body it is the usual problem+json (RFC 9457)
 * with the rule's status; with one, that JSON (`application/json`) with its
 * placeholders filled: `{rule}`, `{limit}`, `{retryAfter}` (whole seconds, as
 * Retry-After) and `{tenant}`. A string that is exactly `"{retryAfter}"`
 * becomes a number. The rule's headers come last, so they may set
 * `content-type` or `cache-control`. Retry-After and the RateLimit fields are
 * the caller's to add.
 *
 * @example
 * refusalResponse({ status: 503, headers: { "x-reason": "busy" }, body: { wait: "{retryAfter}" } },
 *   { rule: "api", limit: "ip-1m", retryAfterMs: 4200, tenant: "" });
 * // 503, {"wait":5}
 */
export function refusalResponse(spec: RefusalSpec, values: RefusalValues): Response {
  const retryAfter = retryAfterSeconds(values.retryAfterMs);
  let res: Response;
  if (spec.body === null) {
    const title = spec.status === 429 ? "Too Many Requests" : "Service Unavailable";
    res = problem(spec.status, {
      type: ProblemType.rateLimited,
      title,
      detail: `Too many requests for rule ${JSON.stringify(values.rule)}; retry in ${retryAfter} second${retryAfter === 1 ? "" : "s"}.`,
      rule: values.rule,
      retryAfter,
      "violated-policies": values.limit === "" ? [] : values.limit.split(","),
    });
  } else {
    const body = fill(spec.body, { ...values, retryAfter });
    res = new Response(JSON.stringify(body), {
      status: spec.status,
      // A refusal must not be served from a cache later (RFC 9111 §5.2.2.5).
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  }
  for (const [name, value] of Object.entries(spec.headers)) res.headers.set(name, value);
  return res;
}

const PLACEHOLDER = /\{(rule|limit|retryAfter|tenant)\}/g;

/** The body with each string's placeholders replaced; JSON-encoded later, never spliced as text. */
function fill(
  value: unknown,
  values: Omit<RefusalValues, "retryAfterMs"> & { retryAfter: number },
): unknown {
  if (typeof value === "string") {
    if (value === "{retryAfter}") return values.retryAfter;
    return value.replace(PLACEHOLDER, (_, name: keyof typeof values) => String(values[name]));
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, values));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, values)]));
  }
  return value;
}
