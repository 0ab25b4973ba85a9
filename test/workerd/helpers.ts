/** @module test/workerd/helpers — a gateway per test, on a chosen store, with an injected clock. */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createGateway, type GatewayOptions } from "../../src/gateway/app.ts";
import type { SluiceEnv } from "../../src/gateway/env.ts";
import type { LimitStore } from "../../src/limiter/types.ts";
import type { DecisionEvent } from "../../src/observe/index.ts";
import {
  DurableObjectStore,
  type SluiceStore,
} from "../../src/stores/durable-object/limit-store.ts";
import { MemoryStore } from "../../src/stores/memory/limit-store.ts";
import { createUpstashClient } from "../../src/stores/redis/client.ts";
import { RedisStore } from "../../src/stores/redis/limit-store.ts";

export type StoreKind = "redis" | "durable-object";
/** The gateway's backends (the runtime contract picks one of these from env). */
export const STORES: StoreKind[] = ["redis", "durable-object"];
/** Every limit store, for the conformance suite: the backends, sharded Durable Objects and the in-isolate memory store. */
export const LIMIT_STORES: LimitStoreKind[] = [...STORES, "durable-object-sharded", "memory"];
export type LimitStoreKind = StoreKind | "durable-object-sharded" | "memory";

/**
 * A bare limit store of `kind` (no blocked cache): on the test Redis, the test
 * Durable Object namespace, or a fresh memory store.
 */
export function limitStore(kind: LimitStoreKind, timeoutMs = 1000): LimitStore {
  if (kind === "memory") return new MemoryStore();
  if (kind === "durable-object-sharded") {
    const ns = env.SLUICE_STORE as unknown as DurableObjectNamespace<SluiceStore>;
    return new DurableObjectStore(ns, { timeoutMs, shards: 4 });
  }
  return kind === "redis"
    ? new RedisStore(createUpstashClient(env.TEST_REDIS_URL, env.TEST_REDIS_TOKEN, timeoutMs), {
        timeoutMs,
      })
    : new DurableObjectStore(env.SLUICE_STORE as unknown as DurableObjectNamespace<SluiceStore>, {
        timeoutMs,
      });
}

/** A clock tests move by hand. */
export class FakeClock {
  now = 1_780_000_000_000;
  advance(ms: number): void {
    this.now += ms;
  }
}

let seq = 0;

/** A key prefix no other test shares (tests share one Redis). */
export function uniquePrefix(): string {
  seq += 1;
  return `t${Date.now().toString(36)}${seq}${Math.random().toString(36).slice(2, 6)}`;
}

export interface TestGateway {
  fetch(path: string, init?: RequestInit & { ip?: string }): Promise<Response>;
  events: DecisionEvent[];
  clock: FakeClock;
}

/**
 * A gateway with `policy` (a prefix is added so Redis keys never collide)
 * over the chosen store. `envOver` replaces any env value.
 */
export function gateway(
  store: StoreKind,
  policy: Record<string, unknown>,
  envOver: Partial<SluiceEnv> = {},
  options: Pick<GatewayOptions, "hold"> = {},
): TestGateway {
  const clock = new FakeClock();
  const events: DecisionEvent[] = [];
  const app = createGateway({ clock: () => clock.now, sink: (e) => events.push(e), ...options });
  const testEnv: SluiceEnv = {
    ...env,
    SLUICE_POLICY: JSON.stringify({ prefix: uniquePrefix(), ...policy }),
    ...(store === "redis"
      ? {
          UPSTASH_REDIS_REST_URL: env.TEST_REDIS_URL,
          UPSTASH_REDIS_REST_TOKEN: env.TEST_REDIS_TOKEN,
        }
      : {}),
    ...envOver,
  };
  return {
    clock,
    events,
    fetch: (path, init = {}) => {
      const { ip = "203.0.113.7", ...rest } = init;
      const headers = new Headers(rest.headers);
      if (ip && !headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", ip);
      const ctx = createExecutionContext();
      const req = new Request(`https://gateway.test${path}`, { ...rest, headers });
      // Background work (refunds) settles before the test looks at the store again.
      return Promise.resolve(app.fetch(req, testEnv, ctx)).then(async (res) => {
        await waitOnExecutionContext(ctx);
        return res;
      });
    },
  };
}

/** Sends `n` requests one after another; returns their statuses. */
export async function statuses(
  gw: TestGateway,
  n: number,
  path: string,
  init: RequestInit & { ip?: string } = {},
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await gw.fetch(path, init);
    await res.body?.cancel();
    out.push(res.status);
  }
  return out;
}

export const LOGIN_POLICY = {
  version: "test-1",
  rules: [
    {
      name: "login",
      match: { path: "/login", methods: ["POST"] },
      limits: [{ rate: "5/min", by: "ip" }],
    },
  ],
};

/** A key of the issued form (`sk_live_` and 43 base64url characters) that was never issued. */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...bytes));
  return `sk_live_${b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

/** Requests the counting REST endpoint (TEST_COUNT_REDIS_URL) has answered so far. */
export async function countingEndpointRequests(): Promise<number> {
  const res = await fetch(`${env.TEST_COUNT_REDIS_URL}/__control/stats`);
  return ((await res.json()) as { requests: number }).requests;
}

/** A Durable Object namespace that counts the stubs it hands out: one per RPC in both stores. */
function countingNamespace(ns: DurableObjectNamespace): {
  binding: DurableObjectNamespace;
  calls: () => number;
} {
  let calls = 0;
  const binding = {
    idFromName: (name: string) => ns.idFromName(name),
    get: (id: DurableObjectId) => {
      calls += 1;
      return ns.get(id);
    },
    getByName: (name: string) => {
      calls += 1;
      return ns.getByName(name);
    },
  };
  return { binding: binding as unknown as DurableObjectNamespace, calls: () => calls };
}

/**
 * The store under `kind` with a counter of its calls: HTTP requests at the
 * counting REST endpoint, or RPCs to the limit and directory objects.
 */
export function countedStore(kind: StoreKind): {
  env: Partial<SluiceEnv>;
  calls: () => Promise<number>;
} {
  if (kind === "redis") {
    return {
      env: { UPSTASH_REDIS_REST_URL: env.TEST_COUNT_REDIS_URL },
      calls: countingEndpointRequests,
    };
  }
  const limits = countingNamespace(env.SLUICE_STORE as unknown as DurableObjectNamespace);
  const directory = countingNamespace(env.SLUICE_DIRECTORY as unknown as DurableObjectNamespace);
  return {
    env: { SLUICE_STORE: limits.binding as never, SLUICE_DIRECTORY: directory.binding as never },
    calls: async () => limits.calls() + directory.calls(),
  };
}
