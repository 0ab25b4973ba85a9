/** @module bench/contenders/bare-1rt — the floor for any limiter on an HTTP store: `bare` plus one raw store round trip per request. */
import { Hono } from "hono";
import { type BenchEnv, forward } from "./shared.ts";

const app = new Hono<{ Bindings: BenchEnv }>();

const PING = JSON.stringify(["PING"]);

/**
 * One request to the store (a PING, the cheapest command), with a plain
 * `fetch` and no client library, then the same forwarding as `bare`. No
 * limiter that asks the store once per request can cost less than this.
 */
app.all("*", async (c) => {
  const res = await fetch(c.env.UPSTASH_REDIS_REST_URL, {
    method: "POST",
    headers: { authorization: `Bearer ${c.env.UPSTASH_REDIS_REST_TOKEN}` },
    body: PING,
  });
  await res.arrayBuffer();
  if (!res.ok) return c.text(`store answered ${res.status}`, 502);
  return forward(c.env.ORIGIN_URL, c.req.raw);
});

export default app;
