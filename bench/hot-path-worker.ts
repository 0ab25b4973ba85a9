/**
 * @module bench/hot-path-worker — runs one step of Sluice's request path many
 * times in a loop, so `bench/hot-path.ts` can price it in workerd's CPU time.
 * Each step that a hot-path change replaced runs both ways: `before` is the
 * code as it was (kept here, for this measurement only), `after` is Sluice's.
 */

import { CONFIG_FIELDS } from "../src/gateway/runtime.ts";
import { hashApiKey } from "../src/identity/secret.ts";
import gateway from "../src/index.ts";
import { type ForwardOptions, requestHeaders, responseHeaders } from "../src/proxy/index.ts";
import { createUpstashClient } from "../src/stores/redis/client.ts";
import { RedisStore } from "../src/stores/redis/limit-store.ts";
import { sha256Hex } from "../src/util/encoding.ts";
import { HOP_BY_HOP_KEYS, headerKey, isManagedHeader } from "../src/util/header-name.ts";
import bare from "./contenders/bare.ts";
import bare1rt from "./contenders/bare-1rt.ts";

interface Env {
  ORIGIN_URL: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  SLUICE_POLICY: string;
  /** Each whole-request contender's bindings, as the benchmark gives them. */
  CONTENDERS: Record<string, Record<string, string>>;
}

/** Contenders whose whole request is priced: the app's own `fetch`, origin and store included. */
const APPS = {
  bare,
  "bare-1rt": bare1rt,
  sluice: gateway,
  "sluice-quiet": gateway,
  "sluice-dark": gateway,
  "sluice-unmatched": gateway,
} as const;

/** Contenders whose requests go to a path no rule matches: the gateway without a decision. */
const UNMATCHED = new Set(["sluice-unmatched"]);

/** As many addresses as the benchmark's load cycles through. */
const IPS = Array.from({ length: 64 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);

type Step = (i: number) => unknown;

/** As many keys as the benchmark's load cycles through. */
const KEYS = Array.from({ length: 256 }, (_, i) => `sk_bench_${String(i).padStart(4, "0")}`);

/** A decision line as the gateway prints it for a plain admission under the benchmark's policy. */
const LINE = {
  msg: "sluice.decision",
  rule: "load",
  outcome: "allowed",
  mode: "enforce",
  method: "GET",
  path: "/api/items/17",
  ipKey: "10.0.0.17",
  keyId: "3f9a1c0e5b2d7a41",
  limits: [
    { id: "key", by: "apiKey", allowed: true, remaining: 999_873, resetMs: 8 },
    { id: "ip", by: "ip", allowed: true, remaining: 999_512, resetMs: 31 },
  ],
  retryAfterMs: 0,
  store: "redis",
  storeMs: 3,
  policyVersion: "bench",
  policyHash: "9d1e0c4be7a5f3286b0d4c1e9f7a2b3c5d6e7f8091a2b3c4d5e6f708192a3b4c",
  at: "2026-12-03T09:00:00.000Z",
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
};

/** The request headers before the one-pass proxy: a full copy, then deletes. */
function requestHeadersTwoPass(src: Headers, incoming: URL, options: ForwardOptions): Headers {
  const headers = withoutHopByHop(new Headers(src));
  headers.delete("host");
  const drop = new Set((options.dropHeaders ?? []).map(headerKey));
  for (const name of [...headers.keys()]) {
    const key = headerKey(name);
    const managed = key === "cf-connecting-ip" ? name !== key : isManagedHeader(key);
    if (managed || drop.has(key)) headers.delete(name);
  }
  for (const [name, value] of Object.entries(options.setHeaders ?? {})) headers.set(name, value);
  if (options.forwardedFor) headers.set("x-forwarded-for", options.forwardedFor);
  headers.set("x-forwarded-proto", incoming.protocol.replace(":", ""));
  headers.set("x-forwarded-host", src.get("host") ?? incoming.host);
  return headers;
}

/** The response headers before: always copied, then hop-by-hop fields deleted. */
function withoutHopByHop(headers: Headers): Headers {
  const listed = new Set(
    (headers.get("connection") ?? "")
      .split(",")
      .map((s) => headerKey(s.trim()))
      .filter(Boolean),
  );
  for (const name of [...headers.keys()]) {
    const key = headerKey(name);
    if (HOP_BY_HOP_KEYS.has(key) || listed.has(key)) headers.delete(name);
  }
  return headers;
}

/** What every step needs, made once per isolate so no request's count includes it. */
interface Fixture {
  /** A real origin answer's headers (the benchmark's origin). */
  originHeaders: Headers;
  byConfig: Map<string, number>;
  byEnv: WeakMap<Env, number>;
  /** A loaded script that returns a decision-sized reply: what one EVALSHA costs the Worker. */
  script: { sha: string; client: ReturnType<typeof createUpstashClient> };
  /** Sluice's Redis store, as the gateway builds it. */
  store: RedisStore;
}

/** Two limits' worth of numbers, as the decide script answers one decision. */
const REPLY_SCRIPT = "return {1, 0, 999873, 8, 0, 1, 0, 999512, 31, 0}";

let fixture: Promise<Fixture> | undefined;

async function prepare(env: Env): Promise<Fixture> {
  const origin = await fetch(env.ORIGIN_URL);
  await origin.body?.cancel();
  // Every key hashed once: the cache holds them all, as under the benchmark's load.
  for (const key of KEYS) await hashApiKey(key);
  const client = createUpstashClient(env.UPSTASH_REDIS_REST_URL, env.UPSTASH_REDIS_REST_TOKEN, 250);
  const sha = await client.scriptLoad(REPLY_SCRIPT);
  return {
    store: new RedisStore(client, { timeoutMs: 250 }),
    script: { sha, client },
    originHeaders: origin.headers,
    byConfig: new Map([[JSON.stringify(CONFIG_FIELDS.map((name) => fieldOf(env, name))), 1]]),
    byEnv: new WeakMap([[env, 1]]),
  };
}

function fieldOf(env: Env, name: string): string | undefined {
  return (env as unknown as Record<string, string | undefined>)[name];
}

/** Every step by name; `noop` is the loop alone. */
function steps(
  req: Request,
  env: Env,
  ctx: ExecutionContext,
  { originHeaders, byConfig, byEnv, script, store }: Fixture,
): Record<string, Step> {
  const incoming = new URL(req.url);
  const options: ForwardOptions = {
    origin: new URL(env.ORIGIN_URL),
    timeoutMs: 30_000,
    forwardedFor: "10.0.0.17",
    appendForwardedFor: false,
    dropHeaders: ["x-sluice-tenant"],
    setHeaders: { traceparent: `00-${LINE.traceId}-${LINE.spanId}-01` },
  };
  const requests = Object.entries(APPS).map(([name, app]): [string, Step] => {
    // One env object per contender for the isolate's life, as the runtime passes it.
    const bindings = env.CONTENDERS[name] ?? {};
    return [
      `request:${name}`,
      async (i) => {
        const headers = {
          "x-api-key": KEYS[i % KEYS.length] as string,
          "cf-connecting-ip": IPS[i % IPS.length] as string,
        };
        const route = UNMATCHED.has(name) ? "/elsewhere" : "/api";
        const res = await app.fetch(
          new Request(`http://bench.local${route}/items/${i % 100}`, { headers }),
          bindings,
          ctx,
        );
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${name} answered ${res.status}`);
      },
    ];
  });
  return {
    ...Object.fromEntries(requests),
    noop: (i) => i,
    "key-hash:before": (i) => sha256Hex(KEYS[i % KEYS.length] as string),
    "key-hash:after": (i) => hashApiKey(KEYS[i % KEYS.length] as string),
    "request-headers:before": () => requestHeadersTwoPass(req.headers, incoming, options),
    "request-headers:after": () => requestHeaders(req.headers, incoming, options),
    "response-headers:before": () => withoutHopByHop(new Headers(originHeaders)),
    "response-headers:after": () => responseHeaders(originHeaders),
    "runtime-lookup:before": () =>
      byConfig.get(JSON.stringify(CONFIG_FIELDS.map((name) => fieldOf(env, name)))),
    "runtime-lookup:after": () => byEnv.get(env),
    "log-line:stringify": () => JSON.stringify(LINE),
    "log-line:print": () => console.log(JSON.stringify(LINE)),
    // One line per event-loop turn, as requests print them: compare with `timer:fire`.
    "log-line:print-per-turn": async () => {
      console.log(JSON.stringify(LINE));
      await new Promise((resolve) => setTimeout(resolve, 0));
    },
    "timer:set-clear": () => clearTimeout(setTimeout(() => undefined, 30_000)),
    "timer:abort-controller": () => new AbortController(),
    "timer:fire": () => new Promise((resolve) => setTimeout(resolve, 0)),
    // 32 at once, as a busy isolate's waiters: the count is of timers, so each call is a 32nd.
    "timer:fire-32": (i) =>
      i % 32 === 0
        ? Promise.all(Array.from({ length: 32 }, () => new Promise((r) => setTimeout(r, 1))))
        : undefined,
    "store:upstash-client": () => script.client.evalsha(script.sha, [], []),
    // Two GCRA limits, per key and per address, as the benchmark's load rule.
    "store:redis-store-decide": (i) =>
      store.decide({
        rule: "load",
        nowMs: Date.now(),
        countRejected: false,
        checks: [
          {
            id: "key",
            key: `hp:load:key:${i % KEYS.length}`,
            algorithm: "gcra",
            count: 1_000_000,
            periodMs: 60_000,
            burst: 1_000_000,
            cost: 1,
          },
          {
            id: "ip",
            key: `hp:load:ip:${i % IPS.length}`,
            algorithm: "gcra",
            count: 1_000_000,
            periodMs: 60_000,
            burst: 1_000_000,
            cost: 1,
          },
        ],
      }),
    "store:plain-fetch": async () => {
      const res = await fetch(env.UPSTASH_REDIS_REST_URL, {
        method: "POST",
        headers: { authorization: `Bearer ${env.UPSTASH_REDIS_REST_TOKEN}` },
        body: JSON.stringify(["EVALSHA", script.sha, "0"]),
      });
      return res.json();
    },
    "fetch:origin": async () => {
      const res = await fetch(env.ORIGIN_URL);
      await res.arrayBuffer();
    },
  };
}

export default {
  async fetch(req: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(req.url);
    fixture ??= prepare(env);
    const all = steps(req, env, ctx, await fixture);
    if (url.pathname === "/steps") return Response.json(Object.keys(all));
    const step = all[url.searchParams.get("step") ?? ""];
    const n = Number(url.searchParams.get("n"));
    if (!step || !(Number.isInteger(n) && n > 0)) {
      return new Response("usage: /?step=<name>&n=<count>, or /steps\n", { status: 400 });
    }
    // Awaited one at a time, as a request awaits each step once.
    for (let i = 0; i < n; i++) {
      const out = step(i);
      if (out instanceof Promise) await out;
    }
    return new Response(`${n}\n`);
  },
};
