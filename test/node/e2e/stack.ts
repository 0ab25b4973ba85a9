/** @module test/node/e2e/stack — the gateway under `wrangler dev` (tools/dev.ts), on a Redis endpoint of the test's or on its Durable Objects, with its log lines. */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const NODE = path.join(ROOT, "node_modules/node/bin/node");

export interface Stack {
  url: string;
  /** The Upstash REST endpoint (Redis stacks only). */
  restUrl: string | undefined;
  /** Every `sluice.decision` line the gateway logged so far. */
  decisions(): Array<Record<string, unknown>>;
  /** Sets the REST endpoint's faults (`{ latencyMs }`, `{ mode: "error" }`). */
  faults(f: { latencyMs?: number; mode?: string }): Promise<void>;
  stop(): Promise<void>;
}

/** A child process, stopped by PID with the rest. */
function start(args: string[], env: Record<string, string>, onLine: (line: string) => void) {
  const child = spawn(NODE, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let rest = "";
  const read = (chunk: Buffer) => {
    rest += chunk.toString();
    const lines = rest.split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  };
  child.stdout?.on("data", read);
  child.stderr?.on("data", read);
  return child;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not start within ${ms / 1000} s`);
}

/**
 * Starts `wrangler dev` with `policy`, on a Redis endpoint of its own (a
 * redis-server and tools/upstash-rest.ts, both separate processes) or, with
 * `store: "durable-object"`, on the gateway's Durable Objects; `vars` are
 * more of the gateway's variables (an admin token, an OTLP endpoint).
 */
export async function startStack(
  store: "redis" | "durable-object",
  policy: Record<string, unknown>,
  vars: Record<string, string> = {},
): Promise<Stack> {
  const children: ChildProcess[] = [];
  try {
    return await startChildren(store, policy, vars, children);
  } catch (err) {
    // What started before the failure is stopped too, newest first.
    for (const child of children.reverse()) await stop(child);
    throw err;
  }
}

async function startChildren(
  store: "redis" | "durable-object",
  policy: Record<string, unknown>,
  vars: Record<string, string>,
  children: ChildProcess[],
): Promise<Stack> {
  const lines: string[] = [];
  const env: Record<string, string> = { ...vars, SLUICE_POLICY: JSON.stringify(policy) };
  let restUrl: string | undefined;
  if (store === "redis") {
    const token = randomBytes(16).toString("hex");
    const restPort = await freePort();
    // Without --redis-port it starts (and stops) a private redis-server.
    children.push(
      start(
        ["tools/upstash-rest.ts", "--port", String(restPort), `--token=${token}`],
        {},
        () => {},
      ),
    );
    restUrl = `http://127.0.0.1:${restPort}`;
    await waitFor("the REST endpoint", async () => (await fetch(`${restUrl}/__control/faults`)).ok);
    Object.assign(env, { UPSTASH_REDIS_REST_URL: restUrl, UPSTASH_REDIS_REST_TOKEN: token });
  }
  const state = mkdtempSync(path.join(tmpdir(), "sluice-e2e-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const devArgs = ["tools/dev.ts", "--port", String(port), "--persist-to", state];
  children.push(start(devArgs, env, (line) => lines.push(line)));
  await waitFor("wrangler dev", async () => (await fetch(`${url}/__sluice/health`)).ok);
  return {
    url,
    restUrl,
    decisions: () =>
      lines
        .filter((l) => l.includes('"msg":"sluice.decision"'))
        .map((l) => JSON.parse(l.slice(l.indexOf("{"))) as Record<string, unknown>),
    faults: async (f) => {
      if (!restUrl) throw new Error("no REST endpoint on a Durable Object stack");
      await fetch(`${restUrl}/__control/faults`, { method: "POST", body: JSON.stringify(f) });
    },
    stop: async () => {
      for (const child of children.reverse()) await stop(child);
      rmSync(state, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  status: number;
  degraded: string | undefined;
  timing: string | undefined;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 });

/** One request over its own keep-alive socket; `abortAfterMs` drops the connection early. */
export function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; abortAfterMs?: number } = {},
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { method: init.method ?? "GET", headers: init.headers, agent },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            degraded: res.headers["sluice-degraded"] as string | undefined,
            timing: res.headers["server-timing"] as string | undefined,
            ms: performance.now() - started,
          }),
        );
      },
    );
    req.on("error", () =>
      resolve({
        status: 0,
        degraded: undefined,
        timing: undefined,
        ms: performance.now() - started,
      }),
    );
    if (init.abortAfterMs !== undefined) setTimeout(() => req.destroy(), init.abortAfterMs);
    req.end();
  });
}

/** `n` requests at once; `each(i)` picks each one's headers. */
export function burst(
  url: string,
  n: number,
  each: (i: number) => { method?: string; headers?: Record<string, string> } = () => ({}),
): Promise<Answer[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => send(url, each(i))));
}

/**
 * Waits until the gateway decides with its store again (after faults, it
 * skips the store and probes it at most once a second): asks a route whose
 * limit the caller names, at most `attempts` times, 300 ms apart.
 *
 * @throws {Error} when the store is still skipped after the last attempt.
 */
export async function untilStoreAnswers(url: string, attempts = 20): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    const answer = await send(url, {
      headers: { "cf-connecting-ip": `192.0.2.${200 + (i % 50)}` },
    });
    if (answer.status === 200 && answer.degraded === undefined) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the store was still skipped after ${attempts} requests to ${url}`);
}
