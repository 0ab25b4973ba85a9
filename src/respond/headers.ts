/** @module respond/headers — RateLimit-Policy / RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11), legacy X-RateLimit-*, Retry-After. */
import type { Context } from "hono";
import type { Decision, LimitState } from "../limiter/types.ts";

/**
 * The draft revision whose text `rateLimitHeaders` implements. -12
 * (2026-11-20) is the latest revision; the README ("Responses") says what
 * was checked against which text.
 */
export const RATELIMIT_DRAFT = "draft-ietf-httpapi-ratelimit-headers-11";

// RFC 9651 §3.3.1: an sf-integer has at most 15 digits.
const SF_INT_MAX = 999_999_999_999_999;

/** A non-negative sf-integer: floored, clamped to RFC 9651 §3.3.1's range; NaN → 0. */
function sfInt(n: number): number {
  if (Number.isNaN(n) || n <= 0) return 0;
  return Math.min(Math.floor(n), SF_INT_MAX);
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

/**
 * What one limit advertises, in the draft's terms. Counts are requests of
 * this request's cost, so a limit with `cost: 3` advertises units ÷ 3.
 */
export interface Advertised {
  id: string;
  /** -11 §3.1.1: the quota, in requests, allocated per `w` seconds. */
  q: number;
  /** -11 §3.1.3: the window of `q`, whole seconds, non-zero. */
  w: number;
  /** -11 §4.1.1: requests available now; never more than `q`. */
  r: number;
  /** -11 §4.1.2: seconds within which the client can use no more than `r`. */
  t: number;
  /** -11 §3.1.2: sent when the limit has a cost, so the unit is not left to the default. */
  qu?: "requests";
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

/**
 * The policy item of a limit: `q` is the burst (the most admitted at once
 * from idle) and `w` the seconds the limit takes to give a whole burst back,
 * so `q / w` is exactly the sustained rate. When that time is not a whole
 * number of seconds (`10/500ms`, `"3/s burst 4"`), both are scaled by the
 * smallest factor that makes `w` whole and `q` a whole number of requests:
 * `10/500ms` is `q=20;w=1`, never `q=10;w=1`.
 */
function quotaWindow(l: LimitState): { q: number; w: number } {
  const burst = BigInt(Math.max(1, Math.floor(l.burst)));
  const count = BigInt(Math.max(1, Math.floor(l.count)));
  const period = BigInt(Math.max(1, Math.floor(l.periodMs)));
  const cost = BigInt(Math.max(1, Math.floor(l.cost)));
  // w = burst·period·k / (count·1000) whole, and q = burst·k / cost whole.
  const kw = (count * 1000n) / gcd(burst * period, count * 1000n);
  const kq = cost / gcd(burst, cost);
  const k = (kw * kq) / gcd(kw, kq);
  const q = (burst * k) / cost;
  const w = (burst * period * k) / (count * 1000n);
  if (q <= BigInt(SF_INT_MAX) && w <= BigInt(SF_INT_MAX)) return { q: Number(q), w: Number(w) };
  // Beyond sf-integer range: whole seconds rounded up and requests down, so
  // the advertised rate is never faster than the real one.
  const w2 = Math.min(Math.max(1, Math.ceil((l.burst * l.periodMs) / l.count / 1000)), SF_INT_MAX);
  const perSecond = (l.count * 1000) / l.periodMs / l.cost;
  return { q: Math.min(sfInt(l.burst / l.cost), sfInt(w2 * perSecond)), w: w2 };
}

/**
 * The effective window (-11 §4.1.2): whole seconds within which the client
 * can use no more than `r`, i.e. until the limit next gives a request's worth
 * back, rounded down so the statement stays true. A denying limit reports
 * the seconds until it admits the request, rounded up as `Retry-After` is.
 */
function effectiveWindow(l: LimitState, requests: number): number {
  if (!l.allowed) return retryAfterSeconds(l.resetMs);
  const ms = untilMoreMs(l, requests);
  return Number.isFinite(ms) && ms > 0 ? Math.min(Math.floor(ms / 1000), SF_INT_MAX) : 0;
}

/** ms until more than `requests` of this cost could be admitted, from this limit's state. */
function untilMoreMs(l: LimitState, requests: number): number {
  const cost = Math.max(1, l.cost);
  switch (l.algorithm) {
    case "gcra":
    case "token-bucket": {
      // Units refill continuously at count/period; `resetMs` is until full,
      // in the whole ms at which requests are decided.
      const units = l.burst - (Math.max(0, l.resetMs) * l.count) / l.periodMs;
      return (((requests + 1) * cost - units) * l.periodMs) / l.count;
    }
    case "fixed-window":
      // Nothing comes back before the window closes; a window not yet open
      // (resetMs 0) opens with the next request and lasts a whole period.
      return l.resetMs > 0 ? l.resetMs : l.periodMs;
    default:
      // sliding-window, sliding-log: units come back as older requests stop
      // counting, at moments the decision does not carry. 0 promises only `r`.
      return 0;
  }
}

/**
 * One limit's RateLimit parameters (see `Advertised`).
 *
 * @example
 * advertise({ id: "ip-1s", count: 20, periodMs: 1000, burst: 40, cost: 1, algorithm: "gcra",
 *   remaining: 39, resetMs: 50, allowed: true });
 * // { id: "ip-1s", q: 40, w: 2, r: 39, t: 0 }
 */
export function advertise(l: LimitState): Advertised {
  const { q, w } = quotaWindow(l);
  const requests = sfInt(l.remaining / Math.max(1, l.cost));
  const r = Math.min(requests, q);
  return {
    id: l.id,
    q,
    w,
    r,
    t: effectiveWindow(l, requests),
    ...(l.cost !== 1 ? { qu: "requests" as const } : {}),
  };
}

/**
 * Picks the limit that a single-limit header set should describe: a denying
 * limit before an admitting one, then the fewest requests left, then the longest wait.
 */
function mostRestrictive(
  ads: readonly Advertised[],
  states: readonly LimitState[],
): Advertised | undefined {
  const rank = (i: number) => {
    const a = ads[i] as Advertised;
    return [Number((states[i] as LimitState).allowed), a.r, -a.t];
  };
  let best = -1;
  for (let i = 0; i < ads.length; i++) {
    if (best < 0) best = i;
    else {
      const [x, y] = [rank(i), rank(best)];
      const d = x.findIndex((v, k) => v !== y[k]);
      if (d >= 0 && (x[d] as number) < (y[d] as number)) best = i;
    }
  }
  return ads[best];
}

/**
 * The RateLimit header fields for a decision, per
 * draft-ietf-httpapi-ratelimit-headers-11 (item syntax unchanged since -08):
 *
 * - `RateLimit-Policy` (§3): one item per limit, an sf-string naming it,
 *   `q` = the burst, `w` = seconds to give it back (see `quotaWindow`), and
 *   `qu="requests"` when the limit has a cost (§3.1.2: counts are requests
 *   of this cost; cost units are not a registered quota unit).
 * - `RateLimit` (§4): `r` = requests available now (≤ q), `t` = the
 *   effective window (see `effectiveWindow`).
 *
 * Members are joined with ", " as RFC 9651 §4.1.1 serialises Lists. No `pk`
 * is sent: our partition keys are client addresses and key hashes (-11 §6.1
 * says not to expose sensitive data there).
 *
 * With `opts.legacy`, also `X-RateLimit-Limit`, `-Remaining` and `-Reset` for the
 * most restrictive limit: q, r and t as above (`Reset` is delta-seconds).
 *
 * Returns `[]` for a decision without limits (RateLimit-Policy must be non-empty).
 *
 * @example
 * rateLimitHeaders(decision, { legacy: false });
 * // [["RateLimit-Policy", '"ip-1m";q=5;w=60'], ["RateLimit", '"ip-1m";r=4;t=12']]
 */
export function rateLimitHeaders(
  decision: Decision,
  opts: { legacy: boolean },
): Array<[name: string, value: string]> {
  const states = decision.limits;
  if (states.length === 0) return [];
  const ads = states.map(advertise);
  const policy = ads
    .map((a) => `${sfString(a.id)};q=${a.q}${a.qu ? `;qu="${a.qu}"` : ""};w=${a.w}`)
    .join(", ");
  const state = ads.map((a) => `${sfString(a.id)};r=${a.r};t=${a.t}`).join(", ");
  const out: Array<[name: string, value: string]> = [
    ["RateLimit-Policy", policy],
    ["RateLimit", state],
  ];
  const worst = opts.legacy ? mostRestrictive(ads, states) : undefined;
  if (worst) {
    out.push(
      ["X-RateLimit-Limit", String(worst.q)],
      ["X-RateLimit-Remaining", String(worst.r)],
      ["X-RateLimit-Reset", String(worst.t)],
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

/** The two List fields whose items Sluice adds to an origin's (-11 §3, §4). */
const RATELIMIT_FIELDS = new Set(["ratelimit", "ratelimit-policy"]);

/**
 * Adds Sluice's fields to `target`, keeping the response's own. Server-Timing
 * is a list (W3C Server Timing) the origin may have started, so it is
 * appended. The origin's own RateLimit and RateLimit-Policy items are kept
 * too: Sluice's items are added to the same Lists (RFC 9651 §3.1 allows a
 * List to be combined), as -11 §7.2 asks of an intermediary. A Sluice item
 * whose id the origin already uses is renamed `sluice:<id>` in both fields,
 * so no id names two policies.
 *
 * @example
 * addHeaders(res.headers, [["Server-Timing", "sluice-store;dur=3"]]);
 */
export function addHeaders(target: Headers, headers: readonly Header[]): void {
  const taken = new Set<string>();
  for (const name of RATELIMIT_FIELDS) {
    for (const id of listIds(target.get(name)) ?? []) taken.add(id);
  }
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === "server-timing") target.append(name, value);
    else if (RATELIMIT_FIELDS.has(lower))
      target.set(name, mergeList(target.get(name), value, taken));
    else target.set(name, value);
  }
}

/**
 * The origin's List with Sluice's items after it. A malformed origin value
 * (which clients must ignore, -11 §7) is replaced rather than joined, so it
 * cannot make Sluice's items unreadable too.
 */
function mergeList(origin: string | null, ours: string, taken: ReadonlySet<string>): string {
  const mine = taken.size === 0 ? ours : renameTaken(ours, taken);
  if (origin === null || origin.trim() === "") return mine;
  return listMembers(origin) === undefined ? mine : `${origin}, ${mine}`;
}

/** Renames Sluice's own items (always `"<id>";…`) whose id the origin uses. */
function renameTaken(ours: string, taken: ReadonlySet<string>): string {
  return (listMembers(ours) ?? [])
    .map((m) => {
      const id = memberId(m);
      return id !== undefined && taken.has(id)
        ? `${sfString(`sluice:${id}`)}${m.slice(m.indexOf(";"))}`
        : m;
    })
    .join(", ");
}

/** The ids (String or Token bare items) of a List's members; undefined when it is not a List. */
function listIds(value: string | null): string[] | undefined {
  if (value === null) return [];
  return listMembers(value)?.flatMap((m) => {
    const id = memberId(m);
    return id === undefined ? [] : [id];
  });
}

/**
 * Splits an RFC 9651 §4.2.1 List into its members' text: top-level commas
 * outside strings and inner lists. Enough to keep and rename items, not a
 * full parser; undefined when the value cannot be a List.
 */
function listMembers(value: string): string[] | undefined {
  const members: string[] = [];
  let start = 0;
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === "\\") i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (ch === "," && depth === 0) {
      members.push(value.slice(start, i).trim());
      start = i + 1;
    }
    if (depth < 0) return undefined;
  }
  members.push(value.slice(start).trim());
  if (quoted || depth !== 0 || members.some((m) => m === "")) return undefined;
  return members;
}

/** A member's bare item when it is a String or a Token (RFC 9651 §3.3.3, §3.3.4). */
function memberId(member: string): string | undefined {
  if (member.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\.)*)"/.exec(member);
    return m ? (m[1] as string).replace(/\\(.)/g, "$1") : undefined;
  }
  return /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(member)?.[0];
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
