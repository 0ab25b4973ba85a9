/** @module bench/run — `npm run bench`: Sluice against a bare proxy and its peers, side by side, over a sweep of connections and store latencies, in one bounded run on loopback. */
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
  estimateSeconds,
  expectedAdmitted,
  parseCommandstats,
  parseNumberList,
  perRequest,
  primaryConnections,
  SCRIPT_CALLS,
  type Slot,
  schedule,
  totalCalls,
  windowWaitMs,
} from "./harness.ts";
import { BENCH_RULES, bindingPeriodSec } from "./limits.ts";
import { burst, runLoad, type Subject } from "./load.ts";
import {
  checkTargets,
  FEATURES,
  formatFeatures,
  formatLimits,
  formatTable,
  formatTargets,
  type Report,
  type SlotResult,
  summarize,
  TARGETS,
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
  bundledAs,
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
/** Where the over-limit scenarios and the configuration variants run, when the sweep has it. */
const PRIMARY_CONNECTIONS = TARGETS.connections;
/** Sluice's contenders: each is held to the issue's targets on the points it ran. */
const SLUICE: readonly ContenderName[] = [
  "sluice",
  "sluice-do",
  "sluice-do-sharded",
  "sluice-quiet",
  "sluice-dark",
  "sluice-observed",
];
/** Time the over-limit scenarios need inside one window of the rate limiting binding (they take a few seconds). */
const SCENARIO_ROOM_MS = 15_000;

// Defaults sized so the whole sweep (eight contenders, four connection
// counts, three store latencies, three rounds) finishes in about ten minutes
// on two cores; --quick is one short round of the same sweep.
const { values: args } = parseArgs({
  options: {
    rounds: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    connections: { type: "string", default: "1,8,32,128" },
    latencies: { type: "string", default: "0,5,20" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "string", default: path.join(OUT, "results.json") },
  },
});

const quick = args.quick;
const config = {
  rounds: positive("rounds", quick ? "1" : "3", true),
  durationSec: positive("duration", quick ? "1" : "1.5"),
  warmupSec: positive("warmup", quick ? "0.5" : "1"),
  connections: parseNumberList(args.connections, "--connections", { min: 1, integer: true }),
  latencies: parseNumberList(args.latencies, "--latencies", { min: 0 }),
  contenders: (args.only ? args.only.split(",") : [...CONTENDERS]) as ContenderName[],
  // The over-limit scenarios.
  soloRequests: 500,
  soloConcurrency: 50,
  blockedRequests: 100,
  twoKeyRequests: [250, 250],
};
const primary = primaryConnections(config.connections, PRIMARY_CONNECTIONS);
/** Configurations measured only to price a feature: at the primary connection count alone. */
const VARIANTS: readonly string[] = FEATURES.flatMap((f) => [f.on, f.off]).filter(
  (name) => name !== "sluice",
);

function positive(
  name: "rounds" | "duration" | "warmup",
  fallback: string,
  integer = false,
): number {
  const n = Number(args[name] ?? fallback);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be a positive ${integer ? "whole " : ""}number`);
  }
  return n;
}

for (const name of config.contenders) {
  if (!CONTENDERS.includes(name)) throw new Error(`unknown contender ${name}`);
}
if (!config.contenders.includes("bare")) config.contenders.unshift("bare");
// Table order whatever --only said.
config.contenders.sort((a, b) => CONTENDERS.indexOf(a) - CONTENDERS.indexOf(b));

/** Whether `contender` has something to measure at this point. */
function runs(contender: ContenderName, latencyMs: number, connections: number): boolean {
  return (
    runsAtLatency(contender, latencyMs) &&
    (!VARIANTS.includes(contender) || connections === primary)
  );
}

const slots = schedule(
  config.rounds,
  config.latencies,
  config.connections,
  config.contenders,
  runs,
);
const scenarios = slots.filter((s) => LIMITERS.includes(s.contender) && s.connections === primary);
const estimate = estimateSeconds({
  contenders: config.contenders.length,
  bundles: new Set(config.contenders.map(bundledAs)).size,
  warmupSec: config.warmupSec,
  slots: slots.length,
  durationSec: config.durationSec,
  scenarios: scenarios.length,
});
/** Past this the run is stuck: stop everything and fail rather than hang. */
const HARD_LIMIT_MS = Math.max(5 * 60, 2 * estimate) * 1000;

// Everything started, in start order; stopped in reverse, each by its PID.
const started: Started[] = [];
let workerd: Workerd | undefined;
let cleaning: Promise<void> | undefined;
let exitCode: number | undefined;

/**
 * Stops everything, once: a second caller (an interrupt while the run is
 * failing, or the other way round) waits for the same cleanup instead of
 * exiting halfway through it.
 */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await workerd?.dispose().catch((err: unknown) => console.error("stopping workerd:", err));
    for (const p of started.reverse()) {
      await p.stop().catch((err: unknown) => console.error(`stopping ${p.name} (${p.pid}):`, err));
    }
  })();
  return cleaning;
}

/** Says why, stops everything, and exits with the first failure's code. */
async function fail(message: string, code: number): Promise<never> {
  console.error(message);
  exitCode ??= code;
  await cleanup();
  process.exit(exitCode);
}

// Miniflare ends the process itself on SIGINT and SIGTERM once it has
// stopped workerd, before an async cleanup can finish: whoever ends it,
// nothing this run started outlives it.
process.once("exit", () => {
  for (const p of started) p.kill();
});
process.once("SIGINT", () => void fail("bench: interrupted", 130));
process.once("SIGTERM", () => void fail("bench: terminated", 143));
setTimeout(
  () => void fail(`bench: still running after ${Math.round(HARD_LIMIT_MS / 1000)} s, stopping`, 1),
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

/** One point for one contender: closed-loop load, what it cost the store, and the over-limit scenarios where due. */
async function measureSlot(
  stack: Stack,
  wd: Workerd,
  slot: Slot<ContenderName>,
  index: number,
): Promise<SlotResult> {
  const { contender, connections } = slot;
  const base = wd.urls.get(contender) as URL;
  wd.takeLogs();
  const before = await storeSnapshot(stack);
  const callsBefore = await callSnapshot(stack, wd, contender);
  const cpuBefore = wd.cpuMs();
  const tp = await runLoad({
    base,
    path: "/api/load",
    connections,
    durationSec: config.durationSec,
    subjects: loadSubjects(),
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
  const scenariosDue = LIMITERS.includes(contender) && connections === primary;
  return {
    round: slot.round,
    latencyMs: slot.latencyMs,
    connections,
    contender,
    throughput: {
      rps: tp.responses / tp.seconds,
      responses: tp.responses,
      sent: tp.sent,
      cpuUs: perRequest(cpu * 1000, n),
      okShare: perRequest(ok, tp.responses),
      errors: tp.errors,
    },
    latency: tp.latency,
    store: {
      calls: callsPerRequest(callsBefore, callsAfter, n),
      commands: perRequest(after.rest.commands - before.rest.commands, n),
      redisTop: perRequest(totalCalls(delta, SCRIPT_CALLS), n),
      redisAll: perRequest(totalCalls(delta), n),
      byCommand: Object.fromEntries(delta),
    },
    logs: { perRequest: perRequest(logs.lines, n), degraded: logs.degraded },
    ...(scenariosDue ? { limits: await overLimit(stack, wd, contender, base, index) } : {}),
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
      calls: callsPerRequest(beforeBlocked, afterBlocked, config.blockedRequests),
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
    const keyed = LIMITERS.includes(name) || name.startsWith("sluice");
    const expectNoKey = keyed ? 401 : 200;
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

/** Bundles, starts the stack and workerd, checks and warms up every contender. */
async function setUp(): Promise<{ stack: Stack; wd: Workerd; bundles: Bundle[]; redis: string }> {
  log(`bench: bundling ${config.contenders.join(", ")} with wrangler deploy --dry-run`);
  const bundles = await bundleContenders(config.contenders, path.join(OUT, "bundles"), (p) =>
    started.push(p),
  );
  const stack = await startStack((p) => started.push(p));
  const info = String(await redisCommand(stack.redisPort, "INFO", "server"));
  const redis = /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
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
      connections: primary,
      durationSec: config.warmupSec,
      subjects: loadSubjects(),
    });
    await settle();
    if (STORE_OF[name] === "durable-object" && !(await wd.storeObjectCalls(name))) {
      log(
        `bench: ${name}: the limit-store objects keep no call count (no stats()), store calls n/a`,
      );
    }
  }
  return { stack, wd, bundles, redis };
}

/** Every point of the sweep, in schedule order. */
async function sweep(stack: Stack, wd: Workerd): Promise<SlotResult[]> {
  const results: SlotResult[] = [];
  let currentLatency = -1;
  for (const [i, slot] of slots.entries()) {
    if (slot.latencyMs !== currentLatency) {
      await setStoreLatency(stack, slot.latencyMs);
      currentLatency = slot.latencyMs;
    }
    const result = await measureSlot(stack, wd, slot, i);
    results.push(result);
    const calls = result.store.calls;
    log(
      `bench: [${i + 1}/${slots.length}] round ${slot.round + 1}, store +${slot.latencyMs} ms, ` +
        `${slot.connections} conns, ${slot.contender}: ${result.throughput.rps.toFixed(0)} req/s, ` +
        `p50 ${result.latency.p50.toFixed(2)} ms, ${Number.isNaN(calls) ? "n/a" : calls.toFixed(2)} calls/req` +
        (result.limits
          ? `, admitted ${result.limits.solo.admitted}/${result.limits.solo.expected}`
          : ""),
    );
  }
  await setStoreLatency(stack, 0);
  return results;
}

/** The printed report: the run, the machine, the three tables and the notes. */
function reportText(
  report: Report,
  bundles: readonly Bundle[],
  machine: Record<string, string>,
  command: string,
  seconds: number,
): string {
  const sizes = bundles
    .filter((b) => bundledAs(b.name) === b.name)
    .map((b) => {
      const alike = bundles.filter((o) => o.name !== b.name && bundledAs(o.name) === b.name);
      return `${b.name} ${b.size.gzipKib.toFixed(1)}${alike.length ? ` (also ${alike.map((o) => o.name).join(", ")})` : ""}`;
    });
  const lines = [
    `Sluice benchmark, ${new Date().toISOString()}, ${seconds} s: \`${command}\``,
    ...Object.entries(machine).map(([k, v]) => `- ${k}: ${v}`),
    `- load: closed loop at ${config.connections.join(" / ")} connections × ${config.durationSec} s per point; ` +
      `${config.rounds} round(s) × store latency ${config.latencies.join(" / ")} ms (REST endpoint only); ` +
      "medians over rounds, ratios and differences paired within a round",
    `- over-limit, at ${primary} connections' turn: ${config.soloRequests} requests at ${config.soloConcurrency} concurrent from one subject ` +
      `(key ${BENCH_RULES.tight.key.count}, address ${BENCH_RULES.tight.ip.count} per hour; per minute for cf-ratelimit); ` +
      `then ${config.blockedRequests} more, one at a time (blocked calls/req); ` +
      `then keys ${config.twoKeyRequests.join(" + ")} from one fresh address, one key after the other`,
    `- bundles, gzip KiB as \`wrangler deploy --dry-run\` reports: ${sizes.join("; ")}`,
    "",
    formatTable(report.rows),
    "",
    "Over-limit scenarios (worst–best round):",
    "",
    formatLimits(report.limits),
  ];
  if (report.features.length > 0) {
    lines.push(
      "",
      "Cost of features (on minus off, same bundle):",
      "",
      formatFeatures(report.features),
    );
  }
  for (const subject of SLUICE.filter((name) => config.contenders.includes(name))) {
    lines.push("", `Targets (${subject}, this run):`, formatTargets(checkTargets(report, subject)));
  }
  const degraded = report.rows.filter((r) => r.degraded > 0);
  if (degraded.length > 0) {
    lines.push(
      "",
      `Failed open (store too slow or failing): ${degraded.map((r) => `${r.contender} at ${r.latencyMs} ms, ${r.connections} conns: ${r.degraded}`).join("; ")}`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const t0 = Date.now();
  log(
    `bench: ${slots.length} points, ${scenarios.length} over-limit runs; about ${Math.round(estimate / 60)} min ` +
      `(stops after ${Math.round(HARD_LIMIT_MS / 60_000)})`,
  );
  const skipped = config.contenders.filter((c) => !slots.some((s) => s.contender === c));
  if (skipped.length > 0)
    log(`bench: nothing to measure for ${skipped.join(", ")} (they run at 0 ms only)`);
  const { stack, wd, bundles, redis } = await setUp();
  const results = await sweep(stack, wd);
  const report = summarize(results);
  const machine = versions(redis);
  const seconds = Math.round((Date.now() - t0) / 1000);
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  console.log(reportText(report, bundles, machine, command, seconds));

  const jsonPath = args.json ?? path.join(OUT, "results.json");
  await mkdir(path.dirname(jsonPath), { recursive: true });
  const { results: _raw, ...tables } = report;
  await writeFile(
    jsonPath,
    `${JSON.stringify({ machine, command, config, seconds, bundles, ...tables, results }, null, 2)}\n`,
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
