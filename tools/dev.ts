/** @module tools/dev — `npm run dev[:redis]`: echo origin (+ redis and the REST endpoint) and `wrangler dev`, torn down together. */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { banner, type RedisInfo } from "./banner.ts";
import { startEchoOrigin } from "./echo-origin.ts";
import { startRedis } from "./redis.ts";
import { startUpstashRest } from "./upstash-rest.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const BIN = path.join(ROOT, "node_modules", ".bin");

const { values } = parseArgs({
  options: {
    redis: { type: "boolean", default: false },
    port: { type: "string", default: "8787" },
    // Where Durable Object state lives (wrangler's default: .wrangler/state).
    "persist-to": { type: "string" },
  },
});

// Stopped in reverse order of start.
const cleanups: (() => Promise<void>)[] = [];
let child: ChildProcess | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child?.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child?.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    for (const stop of cleanups.reverse()) {
      await stop().catch((err: unknown) => console.error("cleanup failed:", err));
    }
  }
  process.exit(code);
}

process.once("SIGINT", () => void shutdown(130));
process.once("SIGTERM", () => void shutdown(143));

/** The policy the gateway will load, for the banner; unreadable JSON is the gateway's to report. */
function policyJson(): unknown {
  try {
    const text =
      process.env.SLUICE_POLICY || readFileSync(path.join(ROOT, "src/sluice.policy.json"), "utf8");
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Variables handed to the gateway as they are, when set in this process's environment. */
const PASSED_THROUGH = [
  "SLUICE_METRICS_OFF",
  "SLUICE_OTLP_ENDPOINT",
  "SLUICE_OTLP_HEADERS",
  "SLUICE_ALERT_WEBHOOK_URL",
  "SLUICE_ALERT_WEBHOOK_SECRET",
  "SLUICE_POLICY_CANARY",
  "SLUICE_POLICY_CANARY_PERCENT",
] as const;

async function main(): Promise<void> {
  let originUrl = process.env.ORIGIN_URL;
  if (!originUrl) {
    const origin = await startEchoOrigin();
    cleanups.push(() => origin.close());
    originUrl = origin.url;
  }

  const vars = [`ORIGIN_URL:${originUrl}`];
  // A fresh admin token per run, so the admin API and the CLI work locally.
  const adminToken = process.env.SLUICE_ADMIN_TOKEN || randomBytes(32).toString("base64url");
  vars.push(`SLUICE_ADMIN_TOKEN:${adminToken}`);
  // A policy other than the bundled one, as the deployed variable would carry it.
  if (process.env.SLUICE_POLICY) vars.push(`SLUICE_POLICY:${process.env.SLUICE_POLICY}`);
  // Observability and rollout settings (README "Observability", "Policy rollout"), when given.
  for (const name of PASSED_THROUGH) {
    const value = process.env[name];
    if (value) vars.push(`${name}:${value}`);
  }
  let store = "Durable Object";
  let redisInfo: RedisInfo | undefined;
  if (process.env.UPSTASH_REDIS_REST_URL && process.env.UPSTASH_REDIS_REST_TOKEN) {
    // A Redis endpoint of the caller's (the end-to-end tests bring their own, with faults).
    vars.push(
      `UPSTASH_REDIS_REST_URL:${process.env.UPSTASH_REDIS_REST_URL}`,
      `UPSTASH_REDIS_REST_TOKEN:${process.env.UPSTASH_REDIS_REST_TOKEN}`,
    );
    store = "Redis";
  } else if (values.redis) {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const token = randomBytes(18).toString("base64url");
    const rest = await startUpstashRest({ redisPort: redis.port, token });
    cleanups.push(() => rest.close());
    vars.push(`UPSTASH_REDIS_REST_URL:${rest.url}`, `UPSTASH_REDIS_REST_TOKEN:${token}`);
    store = "Redis";
    redisInfo = { port: redis.port, pid: redis.pid, restUrl: rest.url, restToken: token };
  }

  const port = values.port;
  const sluiceUrl = `http://127.0.0.1:${port}`;
  console.log(
    banner({
      sluiceUrl,
      originUrl,
      store,
      adminToken,
      policy: policyJson(),
      ...(redisInfo ? { redis: redisInfo } : {}),
    }),
  );

  const args = ["dev", "--port", port, "--ip", "127.0.0.1"];
  for (const v of vars) args.push("--var", v);
  if (values["persist-to"]) args.push("--persist-to", values["persist-to"]);
  child = spawn(path.join(BIN, "wrangler"), args, {
    cwd: ROOT,
    stdio: "inherit",
    env: {
      ...process.env,
      // The wrangler shim runs `#!/usr/bin/env node`: make that the repo's Node 22.
      PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ""}`,
      WRANGLER_SEND_METRICS: "false",
      // Skip miniflare's download of the Request.cf sample: offline-safe and faster.
      CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
    },
  });
  child.once("error", (err) => {
    console.error(`could not start wrangler: ${err.message}`);
    void shutdown(1);
  });
  child.once("exit", (code, signal) => {
    if (!stopping) void shutdown(code ?? (signal ? 1 : 0));
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  void shutdown(1);
});
