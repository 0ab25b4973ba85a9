/** @module bench/contenders/cf-ratelimit — the two limits with Cloudflare's own rate limiting binding (`env.RL.limit({ key })`), as Miniflare simulates it. */
import { Hono, type MiddlewareHandler } from "hono";
import {
  API_KEY_HEADER,
  type BenchRules,
  CLIENT_IP_HEADER,
  forward,
  RATE_LIMIT_BINDINGS,
  ROUTES,
  refuse,
} from "./shared.ts";

type BindingName = (typeof RATE_LIMIT_BINDINGS)[keyof BenchRules][keyof BenchRules["load"]];

/** The origin, and one rate limiting binding per rule and limit (limits and periods are in the config). */
type CfEnv = { ORIGIN_URL: string } & Record<BindingName, RateLimit>;
type AppEnv = { Bindings: CfEnv };

/**
 * Key first, then address, one binding call each, in sequence: a request
 * refused on its key never reaches (so never counts against) the address's
 * limit, as with hono-rate-limiter. The binding has no all-or-nothing across
 * limits, so a request admitted on its key and refused on its address still
 * spends its key's budget.
 */
function limit(rule: keyof BenchRules): MiddlewareHandler<AppEnv> {
  const names = RATE_LIMIT_BINDINGS[rule];
  return async function cfRateLimit(c, next) {
    const apiKey = c.req.header(API_KEY_HEADER);
    if (!apiKey) return refuse(401, "API key required");
    const byKey = await c.env[names.key].limit({ key: apiKey });
    if (!byKey.success) return refuse(429, "Too many requests");
    const ip = c.req.header(CLIENT_IP_HEADER) ?? "unknown";
    const byIp = await c.env[names.ip].limit({ key: ip });
    if (!byIp.success) return refuse(429, "Too many requests");
    await next();
  };
}

const app = new Hono<AppEnv>();
app.use(`${ROUTES.load}/*`, limit("load"));
app.use(`${ROUTES.tight}/*`, limit("tight"));
app.all("*", (c) => forward(c.env.ORIGIN_URL, c.req.raw));

export default app;
