/** @module bench/contenders/hono-rate-limiter — the two limits with hono-rate-limiter and its Redis store on `@upstash/redis`. */
import { Redis } from "@upstash/redis/cloudflare";
import { Hono, type MiddlewareHandler } from "hono";
import { RedisStore, rateLimiter } from "hono-rate-limiter";
import {
  API_KEY_HEADER,
  type BenchEnv,
  type BenchRules,
  CLIENT_IP_HEADER,
  forward,
  type LimitSpec,
  ROUTES,
  refuse,
} from "./shared.ts";

type AppEnv = { Bindings: BenchEnv };

// Built on the first request: the store loads its scripts with a fetch, which
// Workers do not allow at module scope. Kept for the isolate's life.
let built: Record<keyof BenchRules, MiddlewareHandler<AppEnv>[]> | undefined;

function limiters(env: BenchEnv): Record<keyof BenchRules, MiddlewareHandler<AppEnv>[]> {
  if (built) return built;
  // The same client settings as Sluice's: no retries, no telemetry headers.
  const client = new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    retry: { retries: 0, backoff: () => 0 },
    enableTelemetry: false,
  });
  const one = (prefix: string, limit: LimitSpec, header: string, fallback: string) =>
    rateLimiter<AppEnv>({
      windowMs: limit.periodMs,
      limit: limit.count,
      keyGenerator: (c) => c.req.header(header) ?? fallback,
      store: new RedisStore({ client, prefix }),
    });
  const pair = (rule: keyof BenchRules) => [
    one(`bench-hrl:${rule}:key:`, env.BENCH_RULES[rule].key, API_KEY_HEADER, ""),
    one(`bench-hrl:${rule}:ip:`, env.BENCH_RULES[rule].ip, CLIENT_IP_HEADER, "unknown"),
  ];
  built = { load: pair("load"), tight: pair("tight") };
  return built;
}

/** The same 401 as the other contenders for a request without a key. */
const requireKey: MiddlewareHandler<AppEnv> = async function requireKey(c, next) {
  if (!c.req.header(API_KEY_HEADER)) return refuse(401, "API key required");
  await next();
};

/**
 * The rule's `which`-th limiter (0: key, 1: address), once the bindings are
 * known. Key first, as Sluice's rule lists them: a request over its key's
 * limit never reaches (so never counts against) the address's limit.
 */
function limiter(rule: keyof BenchRules, which: 0 | 1): MiddlewareHandler<AppEnv> {
  return function honoRateLimiter(c, next) {
    const handler = limiters(c.env)[rule][which];
    if (!handler) throw new Error(`no limiter ${which} for ${rule}`);
    return handler(c, next);
  };
}

const app = new Hono<AppEnv>();
// In sequence, one store round trip each: key first, then address.
for (const rule of ["load", "tight"] as const) {
  app.use(`${ROUTES[rule]}/*`, requireKey, limiter(rule, 0), limiter(rule, 1));
}
app.all("*", (c) => forward(c.env.ORIGIN_URL, c.req.raw));

export default app;
