/** @module bench/services — the loopback stack under the contenders: redis-server, the Upstash REST endpoint and the origin, each its own process. */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { type RedisHandle, redisCommand, startRedis } from "../tools/redis.ts";
import type { UpstashRestStats } from "../tools/upstash-rest.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

/** A child process the harness started, known by its PID. */
export interface Started {
  name: string;
  pid: number;
  /** SIGTERM, then SIGKILL if it lingers; resolves once it is gone. */
  stop(): Promise<void>;
  /**
   * SIGKILL now if it is still running, synchronously: for an `exit` hook,
   * when something ends the process before `stop()` could finish.
   */
  kill(): void;
}

/**
 * SIGKILL for a child still running; nothing for one that has exited (its
 * PID may belong to someone else by now).
 */
export function killChild(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

export interface Stack {
  redisPort: number;
  restUrl: string;
  restToken: string;
  originUrl: string;
}

/**
 * Starts redis-server (free loopback port, no persistence), the REST endpoint
 * and the origin. The endpoint and the origin run as their own Node processes
 * so their work does not share an event loop with the load generator.
 * `track` receives each process as soon as it exists, so a failure halfway
 * still stops what was started.
 *
 * @example
 * const stack = await startStack((p) => started.push(p));
 */
export async function startStack(track: (p: Started) => void): Promise<Stack> {
  const redis: RedisHandle = await startRedis();
  track({
    name: "redis-server",
    pid: redis.pid,
    stop: () => redis.stop(),
    // tools/redis.ts SIGKILLs the servers it started when this process exits.
    kill: () => undefined,
  });

  const restToken = randomBytes(18).toString("hex");
  const rest = await startNode(
    "upstash-rest",
    ["tools/upstash-rest.ts", "--redis-port", String(redis.port), `--token=${restToken}`],
    /^UPSTASH_REDIS_REST_URL=(\S+)$/m,
    track,
  );
  const origin = await startNode(
    "origin",
    ["bench/origin.ts"],
    /^bench origin listening on (\S+)$/m,
    track,
  );
  return {
    redisPort: redis.port,
    restUrl: rest,
    restToken,
    originUrl: origin,
  };
}

/** Spawns `node <args>` from the repo root and resolves with the first capture of `ready` in its stdout. */
async function startNode(
  name: string,
  args: string[],
  ready: RegExp,
  track: (p: Started) => void,
): Promise<string> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name} did not start`);
  track({ name, pid, stop: () => stopChild(child), kill: () => killChild(child) });
  let out = "";
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready in 10 s:\n${out}`)), 10_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const match = ready.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        // Keep draining so a chatty child never blocks on a full pipe.
        child.stdout?.resume();
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${out}`));
    });
  });
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the process is gone. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await gone;
  clearTimeout(timer);
}

/** Sets the endpoint's injected latency (added before every data request is answered). */
export async function setStoreLatency(stack: Stack, latencyMs: number): Promise<void> {
  const res = await fetch(`${stack.restUrl}/__control/faults`, {
    method: "POST",
    body: JSON.stringify({ latencyMs, mode: "ok" }),
  });
  if (!res.ok) throw new Error(`setting latency failed: ${res.status} ${await res.text()}`);
}

/** The endpoint's counters: HTTP data requests and Redis commands forwarded. */
export async function restStats(stack: Stack): Promise<UpstashRestStats> {
  const res = await fetch(`${stack.restUrl}/__control/stats`);
  if (!res.ok) throw new Error(`reading endpoint stats failed: ${res.status}`);
  return (await res.json()) as UpstashRestStats;
}

/** Redis's own count of commands, as `INFO commandstats` text. */
export async function commandstats(stack: Stack): Promise<string> {
  return String(await redisCommand(stack.redisPort, "INFO", "commandstats"));
}
