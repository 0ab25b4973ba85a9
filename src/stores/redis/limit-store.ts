/** @module stores/redis/limit-store — limits in Redis over HTTP (Upstash REST): one script call carries a batch of decisions. */
import {
  type DecideRequest,
  type Decision,
  type LimitStore,
  StoreError,
} from "../../limiter/types.ts";
import { withBudget } from "../budget.ts";
import { GROUP_COMMIT_DEFAULTS, GroupCommit, type GroupCommitOptions } from "../group-commit.ts";
import { ALGORITHM_CODE, runScript, SCRIPTS, type ScriptRunner } from "./scripts.ts";

/** The slice of `@upstash/redis`'s client the store uses (so tests can inject faults). */
export interface RedisLike extends ScriptRunner {
  del(...keys: string[]): Promise<unknown>;
  ping(): Promise<unknown>;
}

export interface RedisStoreOptions {
  /** Time budget of one decision, waiting for its batch included. */
  timeoutMs: number;
  /** Batching knobs (defaults: `GROUP_COMMIT_DEFAULTS`). */
  groupCommit?: Partial<Omit<GroupCommitOptions, "timeoutMs">>;
}

/** One decision of a batch, in the decide script's modes. */
interface Call {
  mode: "d" | "c" | "p" | "r";
  req: DecideRequest;
}

/**
 * Limit store on Redis. Decisions are group-committed: a lone decision is
 * one EVALSHA (one HTTP round trip, one Redis command); decisions that arrive
 * while calls are in flight share the next one, evaluated in arrival order.
 * Only after a script-cache flush does a call pay one extra EVAL, which also
 * reloads the script.
 *
 * Configure the client with no retries and a per-request abort signal (see
 * `createUpstashClient`): retries would spend the budget, and a retried
 * decision could consume twice.
 *
 * @example
 * const store = new RedisStore(createUpstashClient(url, token, 250), { timeoutMs: 250 });
 */
export class RedisStore implements LimitStore {
  readonly kind = "redis";
  readonly #redis: RedisLike;
  readonly #timeoutMs: number;
  readonly #commit: GroupCommit<Call, number[]>;

  constructor(redis: RedisLike, options: RedisStoreOptions) {
    this.#redis = redis;
    this.#timeoutMs = options.timeoutMs;
    this.#commit = new GroupCommit((calls) => this.#send(calls), {
      ...GROUP_COMMIT_DEFAULTS,
      ...options.groupCommit,
      timeoutMs: options.timeoutMs,
    });
  }

  /** Script calls made so far (for tests and metrics). */
  get calls(): number {
    return this.#commit.calls;
  }

  /** Decisions waiting for a call now. */
  get queued(): number {
    return this.#commit.queued;
  }

  async decide(req: DecideRequest): Promise<Decision> {
    return toDecision(await this.#run({ mode: req.countRejected ? "c" : "d", req }), req);
  }

  async peek(req: DecideRequest): Promise<Decision> {
    return toDecision(await this.#run({ mode: "p", req }), req);
  }

  async refund(req: DecideRequest): Promise<void> {
    await this.#run({ mode: "r", req });
  }

  async reset(_rule: string, keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await withBudget(this.#redis.del(...keys), this.#timeoutMs);
  }

  async ping(): Promise<void> {
    await withBudget(this.#redis.ping(), this.#timeoutMs);
  }

  #run(call: Call): Promise<number[]> {
    return this.#commit.run(call, call.req.waitUntil);
  }

  /** One decide-script call for the whole batch; its reply split per decision. */
  async #send(calls: Call[]): Promise<number[][]> {
    const keys: string[] = [];
    const args = [String(calls.length)];
    for (const { mode, req } of calls) {
      args.push(String(req.nowMs), mode, String(req.checks.length));
      for (const c of req.checks) {
        keys.push(c.key);
        args.push(ALGORITHM_CODE[c.algorithm], String(c.count), String(c.periodMs));
        args.push(String(c.burst), String(c.cost));
      }
    }
    return splitReply(await runScript(this.#redis, SCRIPTS.decide, keys, args), calls);
  }
}

/** The flat reply, per decision: `r` → [1]; otherwise allowed, then 4 numbers per limit. */
function splitReply(raw: unknown, calls: readonly Call[]): number[][] {
  const sizes = calls.map((c) => (c.mode === "r" ? 1 : 1 + 4 * c.req.checks.length));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (!Array.isArray(raw) || raw.length !== total || !raw.every(Number.isSafeInteger)) {
    throw new StoreError(`unexpected script reply: ${JSON.stringify(raw)?.slice(0, 200)}`, "error");
  }
  let at = 0;
  return sizes.map((n) => {
    at += n;
    return (raw as number[]).slice(at - n, at);
  });
}

function toDecision(nums: number[], req: DecideRequest): Decision {
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
      burst: c.burst,
      cost: c.cost,
      algorithm: c.algorithm,
      allowed: ok === 1,
      remaining,
      resetMs,
    };
  });
  return { allowed, retryAfterMs, limits };
}
