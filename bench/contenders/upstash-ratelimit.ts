/** @module bench/contenders/upstash-ratelimit — the two limits with `@upstash/ratelimit`, as its documentation would have them. */
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis/cloudflare";
import { Hono, type MiddlewareHandler } from "hono";
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

interface Pair {
  key: Ratelimit;
  ip: Ratelimit;
}

// Built on the first request (bindings are not readable earlier) and kept for
// the isolate's life, so each limiter's ephemeral cache survives between requests.
let built: Record<keyof BenchRules, Pair> | undefined;

function limiters(env: BenchEnv): Record<keyof BenchRules, Pair> {
  if (built) return built;
  // The same client settings as Sluice's: no retries (a healthy local store
  // never needs them), no telemetry headers. Auto-pipelining stays on (default).
  const redis = new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    retry: { retries: 0, backoff: () => 0 },
    enableTelemetry: false,
  });
  const pair = (rule: keyof BenchRules): Pair => ({
    key: bucket(redis, `bench-upstash:${rule}:key`, env.BENCH_RULES[rule].key),
    ip: bucket(redis, `bench-upstash:${rule}:ip`, env.BENCH_RULES[rule].ip),
  });
  built = { load: pair("load"), tight: pair("tight") };
  return built;
}

function bucket(redis: Redis, prefix: string, limit: LimitSpec): Ratelimit {
  return new Ratelimit({
    redis,
    prefix,
    // `count` tokens, refilled by `count` per period: of its algorithms the
    // closest to Sluice's GCRA default ("count per period, burst count").
    limiter: Ratelimit.tokenBucket(limit.count, `${limit.periodMs} ms`, limit.count),
    // On by default already; explicit because the benchmark claims it.
    ephemeralCache: new Map(),
    analytics: false,
    enableTelemetry: false,
  });
}

/**
 * Both limits at once: two `limit()` calls in parallel, so one round trip of
 * latency, and with auto-pipelining both commands travel in one HTTP request.
 * Each call consumes its own limit whatever the other decides (the library
 * has no all-or-nothing across limiters).
 */
function limit(rule: keyof BenchRules): MiddlewareHandler<AppEnv> {
  return async function upstashRatelimit(c, next) {
    const apiKey = c.req.header(API_KEY_HEADER);
    if (!apiKey) return refuse(401, "API key required");
    const ip = c.req.header(CLIENT_IP_HEADER) ?? "unknown";
    const pair = limiters(c.env)[rule];
    const [byKey, byIp] = await Promise.all([pair.key.limit(apiKey), pair.ip.limit(ip)]);
    // Nothing pending without analytics or multi-region; waited on as documented.
    c.executionCtx.waitUntil(Promise.all([byKey.pending, byIp.pending]));
    if (byKey.reason === "timeout" || byIp.reason === "timeout") {
      // It fails open on timeout; the harness counts these lines.
      console.log("bench.degraded upstash-ratelimit timeout");
    }
    if (!byKey.success || !byIp.success) return refuse(429, "Too many requests");
    await next();
  };
}

const app = new Hono<AppEnv>();
app.use(`${ROUTES.load}/*`, limit("load"));
app.use(`${ROUTES.tight}/*`, limit("tight"));
app.all("*", (c) => forward(c.env.ORIGIN_URL, c.req.raw));

export default app;
