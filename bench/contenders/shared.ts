/** @module bench/contenders/shared — what every benchmark Worker shares: its bindings, the limits, the forwarding step. */

// Type aliases rather than interfaces: these travel as a JSON binding, and
// only aliases satisfy an index-signature type such as Miniflare's `Json`.

/** One limit: `count` requests per `periodMs`, from idle. */
export type LimitSpec = {
  count: number;
  periodMs: number;
};

/** A route limited twice: per API key (`x-api-key`) and per client address (`cf-connecting-ip`). */
export type RuleSpec = {
  key: LimitSpec;
  ip: LimitSpec;
};

/** The two routes of the benchmark: one for throughput (never limits), one to drive over the limit. */
export type BenchRules = {
  load: RuleSpec;
  tight: RuleSpec;
};

/**
 * Where each rule applies: the prefix and everything below it. Fixed here
 * because Hono routes are declared before any binding is readable.
 */
export const ROUTES = { load: "/api", tight: "/tight" } as const satisfies Record<
  keyof BenchRules,
  string
>;

/** Bindings of the peer and floor Workers (Sluice reads its own contract instead). */
export interface BenchEnv {
  ORIGIN_URL: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  /** The harness's `BenchRules`, as a JSON binding. */
  BENCH_RULES: BenchRules;
}

/**
 * Names of the rate limiting bindings the `cf-ratelimit` contender reads, one
 * per rule and limit: the binding fixes its limit and period in the Worker's
 * config, so each limit is its own binding.
 */
export const RATE_LIMIT_BINDINGS = {
  load: { key: "RL_LOAD_KEY", ip: "RL_LOAD_IP" },
  tight: { key: "RL_TIGHT_KEY", ip: "RL_TIGHT_IP" },
} as const satisfies Record<keyof BenchRules, Record<keyof RuleSpec, string>>;

/** Header names the harness sends and every contender reads. */
export const API_KEY_HEADER = "x-api-key";
export const CLIENT_IP_HEADER = "cf-connecting-ip";

/**
 * Forwards a request to the origin with the same method, path, query, headers
 * and body, and hands the origin's response back untouched. Every contender
 * except Sluice (which has its own proxy) forwards through this, so the
 * difference between a peer and `bare` is the peer's limiter alone.
 *
 * @example
 * app.all("*", (c) => forward(c.env.ORIGIN_URL, c.req.raw));
 */
export function forward(origin: string, req: Request): Promise<Response> {
  const url = new URL(req.url);
  return fetch(`${origin}${url.pathname}${url.search}`, {
    method: req.method,
    headers: req.headers,
    body: req.method === "GET" || req.method === "HEAD" ? null : req.body,
    redirect: "manual",
  });
}

/** Plain-text refusal, the same for both peers: a missing key, or a limit reached. */
export function refuse(status: 401 | 429, text: string): Response {
  return new Response(text, { status, headers: { "content-type": "text/plain" } });
}
