/** @module stores/redis/client — an `@upstash/redis` client configured for the hot path. */
import { Redis } from "@upstash/redis/cloudflare";
import { MAX_WAIT_BUDGETS } from "../budget.ts";

/**
 * Builds the client the Redis store expects: no retries (they would outlast
 * the store budget: the default is 5 with backoff, about 4 s) and a fresh
 * abort signal per request. `retries: 0` rather than `retry: false`, which
 * still makes a second attempt. A signal *function* makes the client throw
 * on abort; a plain signal makes it quietly return "Aborted" as a result.
 * `raw` turns off the client's JSON parsing of replies, for stores of documents.
 *
 * @example
 * const redis = createUpstashClient(env.UPSTASH_REDIS_REST_URL, env.UPSTASH_REDIS_REST_TOKEN, 250);
 */
export function createUpstashClient(
  url: string,
  token: string,
  timeoutMs: number,
  options: { raw?: boolean } = {},
): Redis {
  return new Redis({
    url,
    token,
    // `raw`: strings come back exactly as stored, never JSON-parsed by the client.
    automaticDeserialization: !options.raw,
    retry: { retries: 0, backoff: () => 0 },
    enableTelemetry: false,
    // One command per request: batching across a tick only adds work here.
    enableAutoPipelining: false,
    // A backstop: the store's budget timer (stores/budget.ts) ends the wait, and
    // may stretch it while this isolate is too busy to read the answer.
    signal: () => AbortSignal.timeout(timeoutMs * MAX_WAIT_BUDGETS),
  });
}
