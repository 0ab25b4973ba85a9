/** @module stores/redis/limit-store — limits in Redis over HTTP (Upstash REST): one script call carries a batch of decisions. */

import { adaptiveArgs, reportArgs, scaledRequest } from "../../limiter/adaptive.ts";
import { BAN_KEY_PART, bannedDecision, bansAmong } from "../../limiter/ban.ts";
import { CONCURRENCY_RETRY_MS } from "../../limiter/lease.ts";
import { stated } from "../../limiter/model.ts";
import {
  type BanEntry,
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
  scan(
    cursor: string | number,
    opts: { match: string; count: number },
  ): Promise<[string, string[]]>;
  mget<T extends unknown[]>(...keys: string[]): Promise<T>;
}

/** Bans listed at most (an admin view, not a traffic path). */
const MAX_LISTED_BANS = 1000;

export interface RedisStoreOptions {
  /** Time budget of one decision, waiting for its batch included. */
  timeoutMs: number;
  /** Batching knobs (defaults: `GROUP_COMMIT_DEFAULTS`). */
  groupCommit?: Partial<Omit<GroupCommitOptions, "timeoutMs">>;
}

/** One decision of a batch, in the decide script's modes. */
interface Call {
  mode: "d" | "c" | "p" | "r" | "l";
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

  async release(lease: { rule: string; key: string; id: string; nowMs: number }): Promise<void> {
    const spec = { key: lease.key, id: lease.id, max: 0, ttlMs: 0 };
    const req = {
      rule: lease.rule,
      checks: [],
      nowMs: lease.nowMs,
      countRejected: false,
      lease: spec,
    };
    await this.#run({ mode: "l", req });
  }

  async reset(_rule: string, keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await withBudget(this.#redis.del(...keys), this.#timeoutMs);
  }

  async ping(): Promise<void> {
    await withBudget(this.#redis.ping(), this.#timeoutMs);
  }

  /** SCANs for ban keys under `prefix` (admin only; `rules` are implied by the keys). */
  async listBans(prefix: string, _rules: readonly string[], nowMs: number): Promise<BanEntry[]> {
    const found: BanEntry[] = [];
    let cursor = "0";
    do {
      const page: unknown = await withBudget(
        this.#redis.scan(cursor, { match: `${prefix}*${BAN_KEY_PART}*`, count: 1000 }),
        this.#timeoutMs,
      );
      const [next, keys] = scanPage(page);
      cursor = next;
      if (keys.length === 0) continue;
      const values: unknown = await withBudget(
        this.#redis.mget<unknown[]>(...keys),
        this.#timeoutMs,
      );
      if (!Array.isArray(values) || values.length !== keys.length) throw wrongShape("MGET");
      const rows = keys.map((k, i) => [k, values[i] == null ? null : String(values[i])] as const);
      found.push(...bansAmong(rows, prefix, nowMs));
    } while (cursor !== "0" && found.length < MAX_LISTED_BANS);
    return found.slice(0, MAX_LISTED_BANS);
  }

  #run(call: Call): Promise<number[]> {
    return this.#commit.run(call, call.req.waitUntil);
  }

  /** One decide-script call for the whole batch; its reply split per decision. */
  async #send(calls: Call[]): Promise<number[][]> {
    const keys: string[] = [];
    const args = [String(calls.length)];
    for (const { mode, req } of calls) {
      args.push(String(req.nowMs), mode, String(req.maxDelayMs ?? 0), String(req.checks.length));
      for (const c of req.checks) {
        keys.push(c.key);
        args.push(ALGORITHM_CODE[c.algorithm], String(c.count), String(c.periodMs));
        args.push(String(c.burst), String(c.cost), String(c.floorCount ?? c.count));
      }
      // A peek reports the limits as they stand; only a decision meets the ban.
      const deciding = mode === "d" || mode === "c";
      pushBan(keys, args, deciding ? req.ban : undefined);
      pushLease(keys, args, deciding || mode === "l" ? req.lease : undefined);
      pushAdaptive(keys, args, deciding ? req.adaptive : undefined);
    }
    return splitReply(await runScript(this.#redis, SCRIPTS.decide, keys, args), calls);
  }
}

function pushBan(keys: string[], args: string[], ban: DecideRequest["ban"]): void {
  if (!ban) {
    args.push("0");
    return;
  }
  keys.push(ban.key);
  args.push("1", String(ban.after), String(ban.withinMs), String(ban.forMs));
  args.push(String(ban.escalate), String(ban.maxMs));
}

function pushLease(keys: string[], args: string[], lease: DecideRequest["lease"]): void {
  if (!lease) {
    args.push("0");
    return;
  }
  keys.push(lease.key);
  args.push("1", String(lease.max), lease.id, String(lease.ttlMs));
}

function pushAdaptive(keys: string[], args: string[], adaptive: DecideRequest["adaptive"]): void {
  if (!adaptive) {
    args.push("0");
    return;
  }
  keys.push(adaptive.key);
  args.push("1", ...adaptiveArgs(adaptive.config).map(String));
  args.push(...reportArgs(adaptive.report).map(String));
}

/**
 * Numbers before a decision's limits: factor, pause until, allowed, ban
 * until, level, started, delay, lease max, in flight.
 */
const HEADER = 9;

/** The flat reply, per decision: `r` → [1]; otherwise the header, then 4 numbers per limit. */
function splitReply(raw: unknown, calls: readonly Call[]): number[][] {
  const sizes = calls.map((c) =>
    c.mode === "r" || c.mode === "l" ? 1 : HEADER + 4 * c.req.checks.length,
  );
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

/** A decision from the script's numbers (see `DECIDE_SCRIPT`). */
function toDecision(nums: number[], req: DecideRequest): Decision {
  const [factorPpm = 0, pauseUntilMs = 0, ...rest] = nums;
  if (!req.adaptive) return limitsHeader(rest, req);
  // The script scaled the limits by the factor; the decision states them so.
  const decision = limitsHeader(rest, scaledRequest(req, factorPpm));
  return { ...decision, adaptive: { factorPpm, pauseUntilMs } };
}

function limitsHeader(nums: number[], req: DecideRequest): Decision {
  const [ok, banUntil = 0, banLevel = 0, banStarted = 0, delayMs = 0, leaseMax = 0, inFlight = 0] =
    nums;
  const ban = { untilMs: banUntil, level: banLevel };
  // Banned before this decision: no limit was evaluated.
  if (banUntil > 0 && banStarted === 0) return bannedDecision(ban, req.nowMs);
  const decision = limitsDecision(ok === 1, nums.slice(HEADER - 2), req);
  if (leaseMax > 0) {
    return {
      ...decision,
      retryAfterMs: CONCURRENCY_RETRY_MS,
      concurrency: { max: leaseMax, inFlight },
    };
  }
  if (delayMs > 0) decision.delayMs = delayMs;
  return banUntil > 0 ? bannedDecision(ban, req.nowMs, decision) : decision;
}

function limitsDecision(allowed: boolean, nums: number[], req: DecideRequest): Decision {
  let retryAfterMs = 0;
  const limits = req.checks.map((c, i) => {
    const [ok, remaining, resetMs, wait] = nums.slice(4 * i, 4 + 4 * i) as [
      number,
      number,
      number,
      number,
    ];
    if (!allowed) retryAfterMs = Math.max(retryAfterMs, wait);
    return {
      ...stated(c),
      allowed: ok === 1,
      remaining,
      resetMs,
    };
  });
  return { allowed, retryAfterMs, limits };
}

/** A reply the store should not give: the store-failure path, never a 500 (audit F3). */
function wrongShape(command: string): StoreError {
  return new StoreError(`store answered ${command} with a reply of the wrong shape`, "error");
}

/** A SCAN reply as `[cursor, keys]`, or a store error. */
function scanPage(page: unknown): [string, string[]] {
  if (!Array.isArray(page) || page.length !== 2) throw wrongShape("SCAN");
  const [next, keys] = page as [unknown, unknown];
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string")) throw wrongShape("SCAN");
  return [String(next), keys];
}
