/** @module bench/load — the load: autocannon at fixed connections (closed loop) for throughput and latency, and short bursts for the over-limit scenarios. */
import http from "node:http";
import autocannon from "autocannon";
import { type LatencySummary, summarizeLatency } from "./harness.ts";

/** Who a request claims to be. */
export interface Subject {
  apiKey: string;
  ip: string;
}

export interface LoadOptions {
  /** The contender's base URL. */
  base: URL;
  path: string;
  connections: number;
  durationSec: number;
  /** Rotated through by every connection, each from its own offset. */
  subjects: readonly Subject[];
}

export interface LoadResult {
  responses: number;
  /** Requests sent, answered or not: the ones still in flight when the run stops did reach the server. */
  sent: number;
  /** Responses per status code. */
  statuses: Record<string, number>;
  /** Connection errors and timeouts. */
  errors: number;
  seconds: number;
  latency: LatencySummary;
}

/**
 * Runs autocannon against one contender. Each connection cycles through the
 * subjects from a different offset, with its requests prebuilt, so varying
 * keys and addresses costs the load generator nothing per request. Latency
 * is recorded from every response at full precision, whatever its status.
 *
 * @example
 * const r = await runLoad({ base, path: "/api/x", connections: 32, durationSec: 5, subjects });
 */
export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const samples: number[] = [];
  const statuses: Record<string, number> = {};
  let clients = 0;
  const n = opts.subjects.length;
  const stride = Math.max(1, Math.floor(n / Math.max(1, opts.connections)));
  return new Promise<LoadResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: new URL(opts.path, opts.base).href,
        connections: opts.connections,
        duration: opts.durationSec,
        timeout: 10,
        setupClient: (client) => {
          const offset = (clients++ * stride) % n;
          const requests = opts.subjects.map((_, i) => {
            const s = opts.subjects[(offset + i) % n] as Subject;
            return {
              method: "GET" as const,
              path: opts.path,
              headers: { "x-api-key": s.apiKey, "cf-connecting-ip": s.ip },
            };
          });
          client.setRequests(requests);
        },
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) {
          reject(err);
          return;
        }
        resolve({
          responses: samples.length,
          sent: result.requests.sent,
          statuses,
          errors: result.errors + result.timeouts,
          seconds: result.duration,
          latency: summarizeLatency(samples),
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      samples.push(responseTime);
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    });
  });
}

/**
 * Sends one request per entry of `subjects` to `path`, at most `concurrency`
 * at a time, and counts the answers per status. For the over-limit
 * scenarios: what matters is how many get through, not how fast, and how
 * many of those were let through without a decision (`failedOpen`).
 *
 * @example
 * const statuses = await burst(base, "/tight/x", Array(500).fill(subject), 50);
 */
export async function burst(
  base: URL,
  path: string,
  subjects: readonly Subject[],
  concurrency: number,
): Promise<Map<number, number> & { failedOpen: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses = Object.assign(new Map<number, number>(), { failedOpen: 0 });
  let next = 0;
  const worker = async () => {
    while (next < subjects.length) {
      const subject = subjects[next++] as Subject;
      const { status, failedOpen } = await get(base, path, subject, agent);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (failedOpen) statuses.failedOpen++;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, subjects.length) }, worker));
  } finally {
    agent.destroy();
  }
  return statuses;
}

/** `failedOpen`: admitted without a decision (Sluice marks those `Sluice-Degraded`). */
function get(
  base: URL,
  path: string,
  subject: Subject,
  agent: http.Agent,
): Promise<{ status: number; failedOpen: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, base),
      {
        agent,
        headers: { "x-api-key": subject.apiKey, "cf-connecting-ip": subject.ip },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.once("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            failedOpen: res.headers["sluice-degraded"] !== undefined,
          }),
        );
        res.once("error", reject);
      },
    );
    req.once("timeout", () => req.destroy(new Error(`no answer from ${path} in 10 s`)));
    req.once("error", reject);
    req.end();
  });
}
