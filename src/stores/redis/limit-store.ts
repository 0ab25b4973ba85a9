/** @module stores/redis/limit-store — limits in Redis over HTTP (Upstash REST), one script call per request. */

import {
  type DecideRequest,
  type Decision,
  type LimitStore,
  StoreError,
} from "../../limiter/types.ts";
import { withBudget } from "../budget.ts";
import { ALGORITHM_CODE, runScript, SCRIPTS, type ScriptRunner } from "./scripts.ts";

/** The slice of `@upstash/redis`'s client the store uses (so tests can inject faults). */
export interface RedisLike extends ScriptRunner {
  del(...keys: string[]): Promise<unknown>;
  ping(): Promise<unknown>;
}

export interface RedisStoreOptions {
  /** Time budget for one decision, NOSCRIPT fallback included. */
  timeoutMs: number;
}

/**
 * Limit store on Redis. Each decision is exactly one EVALSHA of the decide
 * script (one HTTP round trip, one Redis command); only after a script-cache
 * flush does it pay one extra EVAL, which also reloads the script.
 *
 * Configure the client with `retry: false` and a per-request abort signal
 * (see `createUpstashClient`): retries would spend the budget, and a retried
 * decision could consume twice.
 *
 * @example
 * const store = new RedisStore(createUpstashClient(url, token, 250), { timeoutMs: 250 });
 */
export class RedisStore implements LimitStore {
  readonly kind = "redis";
  readonly #redis: RedisLike;
  readonly #timeoutMs: number;

  constructor(redis: RedisLike, options: RedisStoreOptions) {
    this.#redis = redis;
    this.#timeoutMs = options.timeoutMs;
  }

  async decide(req: DecideRequest): Promise<Decision> {
    return parseReply(await this.#call(req, req.countRejected ? "c" : "d"), req);
  }

  async peek(req: DecideRequest): Promise<Decision> {
    return parseReply(await this.#call(req, "p"), req);
  }

  async refund(req: DecideRequest): Promise<void> {
    await this.#call(req, "r");
  }

  async reset(_rule: string, keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await withBudget(this.#redis.del(...keys), this.#timeoutMs);
  }

  async ping(): Promise<void> {
    await withBudget(this.#redis.ping(), this.#timeoutMs);
  }

  /** One decide-script call in `mode` (see `DECIDE_SCRIPT`), within the budget. */
  #call(req: DecideRequest, mode: "d" | "c" | "p" | "r"): Promise<unknown> {
    const keys = req.checks.map((c) => c.key);
    const args = [String(req.nowMs), mode];
    for (const c of req.checks) {
      args.push(ALGORITHM_CODE[c.algorithm], String(c.count), String(c.periodMs));
      args.push(String(c.burst), String(c.cost));
    }
    return withBudget(runScript(this.#redis, SCRIPTS.decide, keys, args), this.#timeoutMs);
  }
}

function parseReply(raw: unknown, req: DecideRequest): Decision {
  const n = req.checks.length;
  if (!Array.isArray(raw) || raw.length !== 1 + 4 * n || !raw.every(Number.isInteger)) {
    throw new StoreError(`unexpected script reply: ${JSON.stringify(raw)?.slice(0, 200)}`, "error");
  }
  const nums = raw as number[];
  const allowed = nums[0] === 1;
  let retryAfterMs = 0;
  const limits = req.checks.map((c, i) => {
    const [ok, remaining, resetMs, wait] = nums.slice(1 + 4 * i, 5 + 4 * i) as [
      number,
      number,
      number,
      number,
    ];
    if (!allowed) retryAfterMs = Math.max(retryAfterMs, wait);
    return {
      id: c.id,
      count: c.count,
      periodMs: c.periodMs,
      allowed: ok === 1,
      remaining,
      resetMs,
    };
  });
  return { allowed, retryAfterMs, limits };
}
