/** @module middleware/rate-limit/throttle — easing demand instead of refusing: held requests and concurrency caps. */
import type { Context } from "hono";
import { type Requester, subjectOf } from "../../limiter/checks.ts";
import { storeKey } from "../../limiter/store-key.ts";
import type { DecideRequest, Decision, LeaseSpec, LimitStore } from "../../limiter/types.ts";
import type { Rule } from "../../policy/types.ts";
import type { Trace } from "./act.ts";
import { waitUntilOf } from "./background.ts";
import type { RateLimitConfig } from "./config.ts";

/** A lease outlives the origin's header timeout by this much before it lapses on its own. */
const LEASE_MARGIN_MS = 10_000;
/** A request held for a concurrency slot asks again this often. */
const SLOT_POLL_MS = 50;

/**
 * What the store must know of the rule's throttling: how long a request may
 * wait, and the lease of its concurrency cap. Shadow rules are never felt:
 * they take no lease and never wait.
 *
 * @example
 * Object.assign(request, await throttleOf(config, rule, who));
 */
export async function throttleOf(
  config: RateLimitConfig,
  rule: Rule,
  who: Requester,
): Promise<Pick<DecideRequest, "maxDelayMs" | "lease">> {
  if (rule.mode === "shadow") return {};
  const out: Pick<DecideRequest, "maxDelayMs" | "lease"> = {};
  if (rule.action === "delay") out.maxDelayMs = rule.maxDelayMs;
  if (rule.concurrency) out.lease = await leaseOf(config, rule, rule.concurrency, who);
  return out;
}

async function leaseOf(
  config: RateLimitConfig,
  rule: Rule,
  cap: NonNullable<Rule["concurrency"]>,
  who: Requester,
): Promise<LeaseSpec> {
  const subject = await subjectOf(cap, who);
  return {
    key: storeKey(config.policy.prefix, rule.name, "~lease", subject),
    max: cap.max,
    id: crypto.randomUUID().replaceAll("-", ""),
    ttlMs: config.policy.origin.timeoutMs + LEASE_MARGIN_MS,
  };
}

/**
 * Holds a delaying rule's request while its concurrency cap is full, asking
 * again every 50 ms until a slot frees or `maxDelayMs` is spent (a slot
 * frees when a response ends, which no reservation can foresee). The time
 * held goes in `trace.delayedMs`, like a reserved turn's.
 */
export async function waitForSlot<T extends { decision?: Decision | undefined }>(
  c: Context,
  config: RateLimitConfig,
  trace: Pick<Trace, "rule" | "delayedMs">,
  ask: (nowMs: number) => Promise<T>,
  first: T,
): Promise<T> {
  const { rule } = trace;
  let verdict = first;
  let waited = 0;
  while (rule.action === "delay" && verdict.decision?.concurrency && waited < rule.maxDelayMs) {
    const wait = Math.min(SLOT_POLL_MS, rule.maxDelayMs - waited);
    if (!(await config.hold(wait, c.req.raw.signal))) break;
    waited += wait;
    verdict = await ask(config.clock());
  }
  if (waited > 0) trace.delayedMs = waited;
  return verdict;
}

/**
 * Gives a held request's reservation and lease back, in the background: the
 * client went away while it waited.
 */
export function giveBack(c: Context, store: LimitStore, request: DecideRequest): void {
  const work = Promise.allSettled([store.refund(request), release(store, request)]);
  waitUntilOf(c)?.(work);
}

/**
 * Releases the request's lease once its response has been sent: when the
 * body has been read to its end or cancelled (the client went away), or at
 * once for a response without a body.
 */
export function releaseAfterResponse(c: Context, store: LimitStore, request: DecideRequest): void {
  if (!request.lease) return;
  const free = () => {
    // A lost release only holds the slot until the lease's deadline.
    const work = release(store, request).catch(() => {});
    waitUntilOf(c)?.(work);
  };
  const body = c.res.body;
  if (!body) {
    free();
    return;
  }
  let freed = false;
  const once = () => {
    if (!freed) free();
    freed = true;
  };
  c.res = new Response(observeEnd(body, once), c.res);
}

/** A copy of `body` that calls `done` when it has been read to its end, or cancelled. */
function observeEnd(
  body: ReadableStream<Uint8Array>,
  done: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done: end } = await reader.read();
      if (end) {
        controller.close();
        done();
        return;
      }
      controller.enqueue(value);
    },
    async cancel(reason) {
      done();
      await reader.cancel(reason);
    },
  });
}

function release(store: LimitStore, request: DecideRequest): Promise<void> {
  const lease = request.lease;
  if (!lease) return Promise.resolve();
  return store.release({ rule: request.rule, key: lease.key, id: lease.id, nowMs: request.nowMs });
}
