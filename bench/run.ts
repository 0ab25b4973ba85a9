/** @module bench/run — `npm run bench`: Sluice against a bare proxy and its peers, side by side, in one bounded run on loopback. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { redisCommand } from "../tools/redis.ts";
import {
  callsBetween,
  commandDelta,
  expectedAdmitted,
  parseCommandstats,
  perRequest,
  SCRIPT_CALLS,
  schedule,
  totalCalls,
  windowWaitMs,
} from "./harness.ts";
import { BENCH_RULES, bindingPeriodSec } from "./limits.ts";
import { burst, pacedLatency, runLoad, type Subject } from "./load.ts";
import {
  aggregate,
  checkTargets,
  formatTable,
  formatTargets,
  type SlotResult,
  TARGET_NAMES,
} from "./report.ts";
import {
  commandstats,
  restStats,
  type Stack,
  type Started,
  setStoreLatency,
  startStack,
} from "./services.ts";
import {
  type Bundle,
  bundleContenders,
  CONTENDERS,
  type ContenderName,
  contenderBindings,
  LIMITERS,
  runsAtLatency,
  STORE_OF,
  startWorkerd,
  type Workerd,
} from "./workers.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const OUT = path.join(ROOT, "bench", "out");
/** Sluice as configured by default, then with `log.allowed` off: both held to the targets. */
const SLUICE_CONFIGURATIONS: readonly ContenderName[] = ["sluice", "sluice-quiet"];
/** Time the over-limit scenarios need inside one window of the rate limiting binding (they take a few seconds). */
const SCENARIO_ROOM_MS = 15_000;
/** Past this the run is stuck: stop everything and fail rather than hang. */
const HARD_LIMIT_MS = 8 * 60_000;

// Defaults sized so six contenders × two store latencies × three rounds
// finish in about four minutes on two cores.
const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    "latency-duration": { type: "string", default: "2" },
    "latency-rate": { type: "string", default: "200" },
    latencies: { type: "string", default: "0,5" },
    warmup: { type: "string", default: "2" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "string", default: path.join(OUT, "results.json") },
  },
});

const quick = args.quick;
const config = {
  rounds: quick ? 1 : positive("rounds"),
  durationSec: quick ? 2 : positive("duration"),
  connections: positive("connections"),
  latencyDurationSec: quick ? 1 : positive("latency-duration"),
  latencyRate: positive("latency-rate"),
  warmupSec: quick ? 1 : positive("warmup"),
  latencies: (args.latencies ?? "0,5").split(",").map(Number),
  contenders: (args.only ? args.only.split(",") : [...CONTENDERS]) as ContenderName[],
  // The over-limit scenarios.
  soloRequests: 500,
  soloConcurrency: 50,
  blockedRequests: 100,
  twoKeyRequests: [250, 250],
};

function positive(name: keyof typeof args): number {
  const n = Number(args[name]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

for (const name of config.contenders) {
  if (!CONTENDERS.includes(name)) throw new Error(`unknown contender ${name}`);
}
if (!config.contenders.includes("bare")) config.contenders.unshift("bare");
if (config.latencies.some((l) => !Number.isFinite(l) || l < 0)) {
  throw new Error("--latencies must be non-negative numbers, e.g. 0,5");
}

// Everything started, in start order; stopped in reverse, each by its PID.
const started: Started[] = [];
let workerd: Workerd | undefined;
let stopping = false;

async function cleanup(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await workerd?.dispose().catch((err: unknown) => console.error("stopping workerd:", err));
  for (const p of started.reverse()) {
    await p.stop().catch((err: unknown) => console.error(`stopping ${p.name} (${p.pid}):`, err));
  }
}

async function fail(message: string, code: number): Promise<never> {
  console.error(message);
  await cleanup();
  process.exit(code);
}

process.once("SIGINT", () => void fail("bench: interrupted", 130));
process.once("SIGTERM", () => void fail("bench: terminated", 143));
setTimeout(
  () => void fail(`bench: still running after ${HARD_LIMIT_MS / 60_000} min, stopping`, 1),
  HARD_LIMIT_MS,
).unref();

const begun = performance.now();
const log = (line: string) =>
  process.stderr.write(
    `[${((performance.now() - begun) / 1000).toFixed(1).padStart(5)} s] ${line}\n`,
  );

/** 256 API keys over 64 addresses: several keys per address, as behind a NAT. */
function loadSubjects(): Subject[] {
  return Array.from({ length: 256 }, (_, i) => ({
    apiKey: `bench-load-${i}`,
    ip: `10.1.0.${(i % 64) + 1}`,
  }));
}

/** A fresh address per slot and scenario, so no limit carries over between slots. */
function scenarioIp(block: number, slot: number): string {
  return `198.${18 + block}.${slot >> 8}.${slot & 255}`;
}

/** Lets requests cut off at the end of a load run finish their store calls before anything is counted. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 200));
}

async function storeSnapshot(stack: Stack) {
  const [rest, info] = await Promise.all([restStats(stack), commandstats(stack)]);
  return { rest, info: parseCommandstats(info) };
}

/**
 * What `contender`'s store has been asked so far, per counter: the REST
 * endpoint's requests for contenders on Redis (and `bare`, which should
 * show none), each limit-store object's own count for `sluice-do`;
 * undefined where no honest count exists (the rate limiting binding, or a
 * Durable Object class without a counter).
 */
async function callSnapshot(
  stack: Stack,
  wd: Workerd,
  contender: ContenderName,
): Promise<ReadonlyMap<string, number> | undefined> {
  switch (STORE_OF[contender]) {
    case "redis":
    case "none":
      return new Map([["rest", (await restStats(stack)).requests]]);
    case "durable-object":
      return wd.storeObjectCalls(contender);
    case "binding":
      return undefined;
  }
}

/** Store calls per request between two snapshots; NaN when either is unknown. */
function callsPerRequest(
  before: ReadonlyMap<string, number> | undefined,
  after: ReadonlyMap<string, number> | undefined,
  requests: number,
): number {
  return before && after ? perRequest(callsBetween(before, after), requests) : Number.NaN;
}

async function measureSlot(
  stack: Stack,
  wd: Workerd,
  base: URL,
  contender: ContenderName,
  round: number,
  latencyMs: number,
  slot: number,
): Promise<SlotResult> {
  const subjects = loadSubjects();
  wd.takeLogs();
  const before = await storeSnapshot(stack);
  const callsBefore = await callSnapshot(stack, wd, contender);
  const cpuBefore = wd.cpuMs();
  const tp = await runLoad({
    base,
    path: "/api/load",
    connections: config.connections,
    durationSec: config.durationSec,
    subjects,
  });
  await settle();
  const cpu = wd.cpuMs() - cpuBefore;
  const after = await storeSnapshot(stack);
  const callsAfter = await callSnapshot(stack, wd, contender);
  const logs = wd.takeLogs();
  const delta = commandDelta(before.info, after.info);
  // Per request sent: those still in flight at the end did reach the Worker and the store.
  const n = tp.sent;
  const ok = Object.entries(tp.statuses)
    .filter(([status]) => status.startsWith("2"))
    .reduce((sum, [, count]) => sum + count, 0);

  const paced = await pacedLatency({
    base,
    path: "/api/paced",
    rate: config.latencyRate,
    durationSec: config.latencyDurationSec,
    subjects,
  });

  return {
    round,
    latencyMs,
    contender,
    throughput: {
      rps: tp.responses / tp.seconds,
      responses: tp.responses,
      sent: tp.sent,
      cpuUs: perRequest(cpu * 1000, n),
      okShare: perRequest(ok, tp.responses),
      errors: tp.errors,
    },
    latency: paced.latency,
    store: {
      roundTrips: callsPerRequest(callsBefore, callsAfter, n),
      commands: perRequest(after.rest.commands - before.rest.commands, n),
      redisTop: perRequest(totalCalls(delta, SCRIPT_CALLS), n),
      redisAll: perRequest(totalCalls(delta), n),
      byCommand: Object.fromEntries(delta),
    },
    logs: { perRequest: perRequest(logs.lines, n), degraded: logs.degraded },
    ...(LIMITERS.includes(contender)
      ? { limits: await overLimit(stack, wd, contender, base, slot) }
      : {}),
  };
}

/**
 * The over-limit scenarios on the `tight` route, each with subjects no other
 * slot uses: one subject driven over its limit by concurrent clients, the
 * same subject once refused, and two keys sharing one address.
 */
async function overLimit(
  stack: Stack,
  wd: Workerd,
  contender: ContenderName,
  base: URL,
  slot: number,
): Promise<NonNullable<SlotResult["limits"]>> {
  const capacities = { key: BENCH_RULES.tight.key.count, ip: BENCH_RULES.tight.ip.count };
  if (STORE_OF[contender] === "binding") {
    // The binding counts in windows aligned to the clock: start where one has
    // room for every scenario, so nothing refills halfway and the right
    // answer stays exact.
    const wait = windowWaitMs(
      Date.now(),
      bindingPeriodSec(BENCH_RULES.tight.key.periodMs) * 1000,
      SCENARIO_ROOM_MS,
    );
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const solo: Subject = { apiKey: `solo-${slot}`, ip: scenarioIp(0, slot) };
  const soloStatuses = await burst(
    base,
    "/tight/solo",
    Array(config.soloRequests).fill(solo),
    config.soloConcurrency,
  );
  // The same subject, now refused: what does each refusal cost the store?
  const beforeBlocked = await callSnapshot(stack, wd, contender);
  const blockedStatuses = await burst(
    base,
    "/tight/solo",
    Array(config.blockedRequests).fill(solo),
    1,
  );
  const afterBlocked = await callSnapshot(stack, wd, contender);

  // Two keys from one address, the first driven over its limit before the second starts.
  const ip = scenarioIp(1, slot);
  const twoAdmitted: number[] = [];
  let failedOpen = soloStatuses.failedOpen;
  for (const [i, count] of config.twoKeyRequests.entries()) {
    const who: Subject = { apiKey: `pair-${slot}-${i}`, ip };
    const statuses = await burst(
      base,
      "/tight/pair",
      Array(count).fill(who),
      config.soloConcurrency,
    );
    twoAdmitted.push(statuses.get(200) ?? 0);
    failedOpen += statuses.failedOpen;
  }

  const others: Record<string, number> = {};
  for (const [status, count] of soloStatuses) if (status !== 200) others[status] = count;
  return {
    solo: {
      admitted: soloStatuses.get(200) ?? 0,
      expected: expectedAdmitted(capacities, [config.soloRequests])[0] ?? 0,
      others,
    },
    blocked: {
      roundTrips: callsPerRequest(beforeBlocked, afterBlocked, config.blockedRequests),
      refused: blockedStatuses.get(429) ?? 0,
      sent: config.blockedRequests,
    },
    twoKeys: {
      admitted: twoAdmitted,
      expected: expectedAdmitted(capacities, config.twoKeyRequests),
    },
    failedOpen,
  };
}

/** Every contender answers 200 with a key and 401 without one, or the run stops here. */
async function sanityCheck(wd: Workerd): Promise<void> {
  for (const name of config.contenders) {
    const base = wd.urls.get(name) as URL;
    const headers = { "cf-connecting-ip": "192.0.2.1" };
    const ok = await fetch(new URL("/api/check", base), {
      headers: { ...headers, "x-api-key": "check" },
    });
    await ok.arrayBuffer();
    const noKey = await fetch(new URL("/api/check", base), { headers });
    await noKey.arrayBuffer();
    const expectNoKey = LIMITERS.includes(name) ? 401 : 200;
    if (ok.status !== 200 || noKey.status !== expectNoKey) {
      throw new Error(
        `${name}: expected 200 with a key and ${expectNoKey} without, got ${ok.status} and ${noKey.status}`,
      );
    }
  }
}

function versions(redisVersion: string): Record<string, string> {
  const pkg = (name: string) =>
    (
      JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
  let workerdRuntime = "";
  try {
    workerdRuntime = execFileSync(path.join(ROOT, "node_modules", ".bin", "workerd"), ["--version"])
      .toString()
      .trim();
  } catch {
    workerdRuntime = "unknown";
  }
  const cpus = os.cpus();
  return {
    cpus: `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown"}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    workerd: `${pkg("workerd")} (${workerdRuntime})`,
    miniflare: pkg("miniflare"),
    wrangler: pkg("wrangler"),
    redis: redisVersion,
    autocannon: pkg("autocannon"),
    "@upstash/redis": pkg("@upstash/redis"),
    "@upstash/ratelimit": pkg("@upstash/ratelimit"),
    "hono-rate-limiter": pkg("hono-rate-limiter"),
    hono: pkg("hono"),
  };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  log(`bench: bundling ${config.contenders.join(", ")} with wrangler deploy --dry-run`);
  const bundles: Bundle[] = await bundleContenders(config.contenders, path.join(OUT, "bundles"));

  const stack = await startStack((p) => started.push(p));
  const info = String(await redisCommand(stack.redisPort, "INFO", "server"));
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
  log(`bench: redis ${stack.redisPort}, store ${stack.restUrl}, origin ${stack.originUrl}`);

  workerd = await startWorkerd(bundles, (name) => contenderBindings(name, stack));
  const wd = workerd;
  await sanityCheck(wd);

  await setStoreLatency(stack, 0);
  for (const name of config.contenders) {
    log(`bench: warming up ${name}`);
    await runLoad({
      base: wd.urls.get(name) as URL,
      path: "/api/warmup",
      connections: config.connections,
      durationSec: config.warmupSec,
      subjects: loadSubjects(),
    });
    await settle();
  }

  const slots = schedule(
    config.rounds,
    config.latencies,
    [config.connections],
    config.contenders,
    runsAtLatency,
  );
  const results: SlotResult[] = [];
  let currentLatency = -1;
  for (const [i, slot] of slots.entries()) {
    if (slot.latencyMs !== currentLatency) {
      await setStoreLatency(stack, slot.latencyMs);
      currentLatency = slot.latencyMs;
    }
    const result = await measureSlot(
      stack,
      wd,
      wd.urls.get(slot.contender) as URL,
      slot.contender,
      slot.round,
      slot.latencyMs,
      i,
    );
    results.push(result);
    log(
      `bench: [${i + 1}/${slots.length}] round ${slot.round + 1}, store +${slot.latencyMs} ms, ` +
        `${slot.contender}: ${result.throughput.rps.toFixed(0)} req/s, p50 ${result.latency.p50.toFixed(2)} ms, ` +
        `${result.store.roundTrips.toFixed(2)} RT/req` +
        (result.limits
          ? `, admitted ${result.limits.solo.admitted}/${result.limits.solo.expected}`
          : ""),
    );
  }
  await setStoreLatency(stack, 0);

  const gzip = new Map(bundles.map((b) => [b.name, b.size.gzipKib] as const));
  const rows = aggregate(results, "bare", gzip);
  const machine = versions(redisVersion);
  const seconds = Math.round((Date.now() - t0) / 1000);
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const lines = [
    `Sluice benchmark, ${new Date().toISOString()}, ${seconds} s: \`${command}\``,
    ...Object.entries(machine).map(([k, v]) => `- ${k}: ${v}`),
    `- load: ${config.connections} connections × ${config.durationSec} s per slot; latency: ` +
      `${config.latencyRate} req/s evenly spaced (open loop) × ${config.latencyDurationSec} s; ` +
      `${config.rounds} round(s) × store latency ${config.latencies.join(" / ")} ms; medians over rounds`,
    `- over-limit: ${config.soloRequests} requests at ${config.soloConcurrency} concurrent from one subject ` +
      `(key ${BENCH_RULES.tight.key.count}/h, address ${BENCH_RULES.tight.ip.count}/h); ` +
      `then ${config.blockedRequests} more, one at a time (blocked RT/req); ` +
      `then keys ${config.twoKeyRequests.join(" + ")} from one fresh address, one key after the other`,
    "- bundle: `wrangler deploy --dry-run --outdir`, gzip as wrangler reports it",
    "",
    formatTable(rows),
  ];
  // Every Sluice configuration in the run is held to the same targets.
  const subjects = SLUICE_CONFIGURATIONS.filter((name) => config.contenders.includes(name));
  for (const subject of subjects) {
    lines.push(
      "",
      `Targets (${subject}, this run):`,
      formatTargets(checkTargets(rows, { ...TARGET_NAMES, subject })),
    );
  }
  const degraded = rows.filter((r) => r.degraded > 0);
  if (degraded.length > 0) {
    lines.push(
      "",
      `Failed open (store too slow or failing): ${degraded.map((r) => `${r.contender} at ${r.latencyMs} ms: ${r.degraded}`).join("; ")}`,
    );
  }
  const logged = rows.filter(
    (r) => r.logsPerRequest > 0 || (subjects as readonly string[]).includes(r.contender),
  );
  if (logged.length > 0) {
    lines.push(
      "",
      `Log lines per request: ${logged.map((r) => `${r.contender} at ${r.latencyMs} ms: ${r.logsPerRequest.toFixed(2)}`).join("; ")}`,
    );
  }
  console.log(lines.join("\n"));

  const jsonPath = args.json ?? path.join(OUT, "results.json");
  await mkdir(path.dirname(jsonPath), { recursive: true });
  await writeFile(
    jsonPath,
    `${JSON.stringify({ machine, command, config, bundles, rows, results }, null, 2)}\n`,
  );
  log(`bench: raw results in ${path.relative(ROOT, jsonPath)}`);
}

main().then(
  async () => {
    await cleanup();
    process.exit(0);
  },
  (err: unknown) =>
    fail(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, 1),
);
