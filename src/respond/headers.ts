/** @module respond/headers — RateLimit-Policy / RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11), legacy X-RateLimit-*, Retry-After. */
import type { Context } from "hono";
import type { Decision, LimitState } from "../limiter/types.ts";

/** The draft revision whose syntax `rateLimitHeaders` emits. */
export const RATELIMIT_DRAFT = "draft-ietf-httpapi-ratelimit-headers-11";

// RFC 9651 §3.3.1: an sf-integer has at most 15 digits.
const SF_INT_MAX = 999_999_999_999_999;

/** A non-negative sf-integer: floored, clamped to RFC 9651 §3.3.1's range; NaN → 0. */
function sfInt(n: number): number {
  if (Number.isNaN(n) || n <= 0) return 0;
  return Math.min(Math.floor(n), SF_INT_MAX);
}

/** Whole seconds, rounded up so a client never comes back too early. */
function ceilSeconds(ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return Math.min(Math.ceil(ms / 1000), SF_INT_MAX);
}

/**
 * Serialises an sf-string (RFC 9651 §4.1.6): `\` and `"` are escaped; anything
 * outside printable ASCII fails serialisation, as the RFC requires. Limit ids are
 * sf-keys by policy validation, so this only throws on a programming error.
 */
function sfString(s: string): string {
  if (!/^[\x20-\x7e]*$/.test(s)) {
    throw new TypeError(
      `ERR_SLUICE_SF_STRING: limit id ${JSON.stringify(s)} is not printable ASCII`,
    );
  }
  return `"${s.replace(/[\\"]/g, "\\$&")}"`;
}

/** Window in whole seconds; draft-11 §3.1.3 requires w to be non-zero, so at least 1. */
function windowSeconds(periodMs: number): number {
  return Math.max(1, ceilSeconds(periodMs));
}

/**
 * Picks the limit that a single-limit header set should describe: a denying
 * limit before an admitting one, then the lowest remaining, then the longest reset.
 */
function mostRestrictive(limits: readonly LimitState[]): LimitState | undefined {
  let best: LimitState | undefined;
  for (const l of limits) {
    if (
      best === undefined ||
      Number(l.allowed) < Number(best.allowed) ||
      (l.allowed === best.allowed &&
        (l.remaining < best.remaining ||
          (l.remaining === best.remaining && l.resetMs > best.resetMs)))
    ) {
      best = l;
    }
  }
  return best;
}

/**
 * The RateLimit header fields for a decision, in the syntax of
 * draft-ietf-httpapi-ratelimit-headers-11 (same item syntax since -08):
 *
 * - `RateLimit-Policy` (§3): one item per limit, an sf-string naming the limit,
 *   `q` = count, `w` = window in seconds (rounded up, ≥ 1).
 * - `RateLimit` (§4): one item per limit, `r` = remaining (floored, ≥ 0) and
 *   `t` = seconds until `resetMs` (rounded up, ≥ 0; §4.1.2 allows 0).
 *
 * Members are joined with ", " as RFC 9651 §4.1.1 serialises Lists (the draft's
 * own examples use both "," and ", "; parsers accept either). No `pk` is sent:
 * our partition keys are client addresses and key hashes (draft-11 §6.1 says
 * not to expose sensitive data there).
 *
 * With `opts.legacy`, also `X-RateLimit-Limit`, `-Remaining` and `-Reset` for the
 * most restrictive limit (a denying one first, then lowest remaining). `Reset`
 * is delta-seconds, not an epoch timestamp: it needs no clock agreement between
 * client and edge, and matches `Retry-After` and the draft's `t`.
 *
 * Returns `[]` for a decision without limits (RateLimit-Policy must be non-empty).
 *
 * @example
 * rateLimitHeaders(
 *   { allowed: true, retryAfterMs: 0, limits: [{ id: "default", count: 100, periodMs: 10_000, remaining: 50, resetMs: 30_000, allowed: true }] },
 *   { legacy: false },
 * );
 * // [["RateLimit-Policy", '"default";q=100;w=10'], ["RateLimit", '"default";r=50;t=30']]
 */
export function rateLimitHeaders(
  decision: Decision,
  opts: { legacy: boolean },
): Array<[name: string, value: string]> {
  const limits = decision.limits;
  if (limits.length === 0) return [];
  const policy = limits
    .map((l) => `${sfString(l.id)};q=${sfInt(l.count)};w=${windowSeconds(l.periodMs)}`)
    .join(", ");
  const state = limits
    .map((l) => `${sfString(l.id)};r=${sfInt(l.remaining)};t=${ceilSeconds(l.resetMs)}`)
    .join(", ");
  const out: Array<[name: string, value: string]> = [
    ["RateLimit-Policy", policy],
    ["RateLimit", state],
  ];
  const worst = opts.legacy ? mostRestrictive(limits) : undefined;
  if (worst) {
    out.push(
      ["X-RateLimit-Limit", String(sfInt(worst.count))],
      ["X-RateLimit-Remaining", String(sfInt(worst.remaining))],
      ["X-RateLimit-Reset", String(ceilSeconds(worst.resetMs))],
    );
  }
  return out;
}

/**
 * `Retry-After` as delay-seconds (RFC 9110 §10.2.3): whole seconds, rounded up
 * so the client never retries early, and at least 1 — "0" would invite an
 * immediate retry loop. Capped at 2^31 like delta-seconds (RFC 9111 §1.2.2).
 *
 * @example
 * retryAfterSeconds(1);    // 1
 * retryAfterSeconds(1001); // 2
 */
export function retryAfterSeconds(ms: number): number {
  if (Number.isNaN(ms) || ms <= 1000) return 1;
  return Math.min(Math.ceil(ms / 1000), 2 ** 31);
}

/** A response header to add: name and value. */
export type Header = [name: string, value: string];

/**
 * Adds Sluice's fields to `target`, keeping the response's own. Server-Timing
 * is a list (W3C Server Timing) the origin may have started, so it is appended.
 *
 * @example
 * addHeaders(res.headers, [["Server-Timing", "sluice-store;dur=3"]]);
 */
export function addHeaders(target: Headers, headers: readonly Header[]): void {
  for (const [name, value] of headers) {
    if (name === "Server-Timing") target.append(name, value);
    else target.set(name, value);
  }
}

/**
 * As `addHeaders` on the context's response; a response straight from `fetch`
 * has immutable headers and is copied first.
 *
 * @example
 * await next();
 * addToContext(c, [["Sluice-Degraded", "store-timeout"]]);
 */
export function addToContext(c: Context, headers: readonly Header[]): void {
  try {
    addHeaders(c.res.headers, headers);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    c.res = new Response(c.res.body, c.res);
    addHeaders(c.res.headers, headers);
  }
}
