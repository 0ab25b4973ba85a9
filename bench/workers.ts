/** @module bench/workers — bundles each contender as `wrangler deploy` would and runs them all in one workerd, through Miniflare's Node API. */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { convertV4MiniflareOptions, type Json, Miniflare, type V4WorkerOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { type BundleSize, parseUploadSize } from "./harness.ts";
import { BENCH_RULES, rateLimitBindings, rateLimitToml, sluicePolicy } from "./limits.ts";
import { killChild, type Started, stopChild } from "./services.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const BIN = path.join(ROOT, "node_modules", ".bin");

/**
 * The contenders, in the order the table lists them. `bare` is the floor;
 * `bare-1rt` adds one raw store round trip, the least any limiter on an HTTP
 * store can spend. `sluice` is the gateway as configured by default, on
 * Redis; `sluice-do` is the same bundle without Upstash variables, so on its
 * Durable Object store; `sluice-quiet` is `sluice` with
 * `"log": {"allowed": false}`; `sluice-delay` and `sluice-concurrency` are
 * `sluice` with `"action": "delay"` and a concurrency cap of 1,000 per address
 * (never reached under the load: they price the machinery, not a refusal);
 * `sluice-adaptive` is `sluice` with `"adaptive": {}` on every rule (the
 * origin stays healthy, so it prices the report and the scaling);
 * `sluice-dark` is `sluice` with metrics off (`SLUICE_METRICS_OFF`), and
 * `sluice-observed` is `sluice` exporting a span per request over OTLP/HTTP
 * to the bench origin: with `sluice` (metrics on, the default) they price the
 * observability features. `cf-ratelimit` is Cloudflare's own rate limiting
 * binding as Miniflare simulates it.
 */
export const CONTENDERS = [
  "bare",
  "bare-1rt",
  "sluice",
  "sluice-do",
  "sluice-do-sharded",
  "sluice-quiet",
  "sluice-delay",
  "sluice-concurrency",
  "sluice-adaptive",
  "sluice-dark",
  "sluice-observed",
  "upstash-ratelimit",
  "hono-rate-limiter",
  "cf-ratelimit",
] as const;
export type ContenderName = (typeof CONTENDERS)[number];

/** The contenders that limit (the others admit everything and answer 200 without a key). */
export const LIMITERS: readonly ContenderName[] = [
  "sluice",
  "sluice-do",
  "sluice-do-sharded",
  "sluice-quiet",
  "sluice-dark",
  "sluice-observed",
  "upstash-ratelimit",
  "hono-rate-limiter",
  "cf-ratelimit",
];

/** Objects per rule for `sluice-do-sharded`: its two limits count by key and by address, so most decisions span two. */
export const DO_SHARDS = 8;

/**
 * Where each contender keeps its counts: the REST endpoint in front of Redis
 * (whose latency the harness sets and whose requests it counts), the Worker's
 * own Durable Objects, the rate limiting binding's simulated service, or
 * nowhere.
 */
export type StoreKind = "none" | "redis" | "durable-object" | "binding";
export const STORE_OF: Record<ContenderName, StoreKind> = {
  bare: "none",
  "bare-1rt": "redis",
  sluice: "redis",
  "sluice-do": "durable-object",
  "sluice-do-sharded": "durable-object",
  "sluice-quiet": "redis",
  "sluice-delay": "redis",
  "sluice-concurrency": "redis",
  "sluice-adaptive": "redis",
  "sluice-dark": "redis",
  "sluice-observed": "redis",
  "upstash-ratelimit": "redis",
  "hono-rate-limiter": "redis",
  "cf-ratelimit": "binding",
};

/**
 * Whether a contender is measured at store latency `latencyMs`. The injected
 * latency is the REST endpoint's, so contenders that never ask it run in the
 * 0 ms block only (at 5 ms they would measure the same thing under another
 * label). `bare` asks no store either but runs everywhere: it is the
 * baseline each point is paired with.
 *
 * @example
 * runsAtLatency("sluice-do", 5); // false
 * runsAtLatency("bare", 5); // true
 */
export function runsAtLatency(name: ContenderName, latencyMs: number): boolean {
  const kind = STORE_OF[name];
  return latencyMs === 0 || kind === "redis" || name === "bare";
}

/**
 * Contenders that run another contender's bundle with other bindings: the
 * code is byte for byte the same, so it is bundled once.
 */
const SAME_CODE_AS = {
  "sluice-quiet": "sluice",
  "sluice-do": "sluice",
  "sluice-do-sharded": "sluice",
  "sluice-delay": "sluice",
  "sluice-concurrency": "sluice",
  "sluice-adaptive": "sluice",
  "sluice-dark": "sluice",
  "sluice-observed": "sluice",
} as const satisfies Partial<Record<ContenderName, ContenderName>>;

/**
 * The contender whose bundle `name` runs: itself, unless it only differs in
 * configuration.
 *
 * @example
 * bundledAs("sluice-quiet"); // "sluice"
 * bundledAs("sluice-do"); // "sluice"
 */
export function bundledAs(name: ContenderName): ContenderName {
  return (SAME_CODE_AS as Partial<Record<ContenderName, ContenderName>>)[name] ?? name;
}

type Bundled = Exclude<ContenderName, keyof typeof SAME_CODE_AS>;

/** Entry modules of the benchmark's own Workers; Sluice is the repo's `wrangler.toml` as deployed. */
const ENTRIES: Record<Exclude<Bundled, "sluice">, string> = {
  bare: "bench/contenders/bare.ts",
  "bare-1rt": "bench/contenders/bare-1rt.ts",
  "upstash-ratelimit": "bench/contenders/upstash-ratelimit.ts",
  "hono-rate-limiter": "bench/contenders/hono-rate-limiter.ts",
  "cf-ratelimit": "bench/contenders/cf-ratelimit.ts",
};

/** Config beyond name, entry and date for the benchmark's own Workers: the binding's limits. */
const EXTRA_CONFIG: Partial<Record<Bundled, string>> = {
  "cf-ratelimit": rateLimitToml(rateLimitBindings(BENCH_RULES)),
};

export interface Bundle {
  /** The contender that runs it. */
  name: ContenderName;
  /** The wrangler config the bundle was built from. */
  configPath: string;
  /** `wrangler deploy --dry-run --outdir` output directory. */
  outdir: string;
  /** The bundled module in `outdir` (wrangler names it after the entry). */
  mainModule: string;
  /** What wrangler reports it would upload. */
  size: BundleSize;
}

/**
 * Bundles each contender's code once (see `bundledAs`), in the contenders'
 * order; contenders sharing code share the bundle's files.
 *
 * @example
 * const bundles = await bundleContenders(["sluice", "sluice-quiet"], "bench/out/bundles");
 * // one `wrangler deploy --dry-run`, two bundles
 */
export async function bundleContenders(
  names: readonly ContenderName[],
  outRoot: string,
  track?: (p: Started) => void,
): Promise<Bundle[]> {
  const built = new Map<ContenderName, Bundle>();
  const bundles: Bundle[] = [];
  for (const name of names) {
    const source = bundledAs(name);
    let bundle = built.get(source);
    if (!bundle) {
      bundle = await bundleContender(source, outRoot, track);
      built.set(source, bundle);
    }
    bundles.push({ ...bundle, name });
  }
  return bundles;
}

/**
 * Bundles one contender with `wrangler deploy --dry-run --outdir`, exactly
 * what a deployment would upload. The benchmark's Workers get a generated
 * config with the repo's compatibility date; Sluice (and any contender that
 * runs its code) uses `wrangler.toml`.
 *
 * @example
 * const bundle = await bundleContender("sluice", "bench/out/bundles");
 */
export async function bundleContender(
  name: ContenderName,
  outRoot: string,
  track?: (p: Started) => void,
): Promise<Bundle> {
  const source = bundledAs(name) as Bundled;
  // Absolute: wrangler resolves a relative --outdir against the config's directory.
  const outdir = path.resolve(outRoot, source);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  let configPath = path.join(ROOT, "wrangler.toml");
  if (source !== "sluice") {
    const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath);
    configPath = path.resolve(outRoot, `${source}.wrangler.toml`);
    await writeFile(
      configPath,
      [
        `name = "bench-${source}"`,
        `main = ${JSON.stringify(path.join(ROOT, ENTRIES[source]))}`,
        `compatibility_date = ${JSON.stringify(workerOptions.compatibilityDate)}`,
        "",
        ...(EXTRA_CONFIG[source] ? [EXTRA_CONFIG[source], ""] : []),
      ].join("\n"),
    );
  }
  const output = await run(
    path.join(BIN, "wrangler"),
    ["deploy", "--dry-run", "--outdir", outdir, "--config", configPath],
    track,
  );
  const size = parseUploadSize(output);
  if (!size) throw new Error(`no upload size in wrangler's output for ${source}:\n${output}`);
  const modules = (await readdir(outdir)).filter((f) => f.endsWith(".js"));
  if (modules.length !== 1 || !modules[0]) {
    throw new Error(`expected one module in ${outdir}, found: ${modules.join(", ") || "none"}`);
  }
  return { name, configPath, outdir, mainModule: modules[0], size };
}

/**
 * Runs a command to completion; resolves with stdout + stderr, rejects on a
 * non-zero exit. `track` learns its PID, so a run stopped meanwhile stops it too.
 */
export function run(cmd: string, args: string[], track?: (p: Started) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        // The wrangler shim runs `#!/usr/bin/env node`: make that the repo's Node 22.
        PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ""}`,
        WRANGLER_SEND_METRICS: "false",
        NO_COLOR: "1",
      },
    });
    if (child.pid !== undefined) {
      track?.({
        name: path.basename(cmd),
        pid: child.pid,
        stop: () => stopChild(child),
        kill: () => killChild(child),
      });
    }
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString("utf8");
    });
    child.stderr.on("data", (b: Buffer) => {
      out += b.toString("utf8");
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} → ${code}\n${out}`)),
    );
  });
}

/** Where the contenders find the loopback stack. */
export interface Endpoints {
  originUrl: string;
  restUrl: string;
  restToken: string;
}

/**
 * Each contender's bindings: the origin for all, the REST store for those on
 * Redis, and the limits, as Sluice's policy for Sluice (the same policy with
 * `log.allowed` off for `sluice-quiet`) and as `BENCH_RULES` for the peers.
 * `sluice-do` gets no Upstash variables, so Sluice uses its Durable Objects
 * (bound by `wrangler.toml`), and `sluice-do-sharded` the same spread over
 * `DO_SHARDS` objects per rule; `cf-ratelimit`'s limits are rate limiting
 * bindings in its config.
 *
 * @example
 * await startWorkerd(bundles, (name) => contenderBindings(name, stack));
 */
export function contenderBindings(name: ContenderName, at: Endpoints): Record<string, Json> {
  const origin = { ORIGIN_URL: at.originUrl };
  const store = { UPSTASH_REDIS_REST_URL: at.restUrl, UPSTASH_REDIS_REST_TOKEN: at.restToken };
  switch (name) {
    case "bare":
      return origin;
    case "bare-1rt":
      return { ...origin, ...store };
    case "sluice":
      return { ...origin, ...store, SLUICE_POLICY: JSON.stringify(sluicePolicy(BENCH_RULES)) };
    case "sluice-do":
      return { ...origin, SLUICE_POLICY: JSON.stringify(sluicePolicy(BENCH_RULES)) };
    case "sluice-do-sharded":
      return {
        ...origin,
        SLUICE_POLICY: JSON.stringify(sluicePolicy(BENCH_RULES, { shards: DO_SHARDS })),
      };
    case "cf-ratelimit":
      return origin;
    case "sluice-quiet":
      return {
        ...origin,
        ...store,
        SLUICE_POLICY: JSON.stringify(sluicePolicy(BENCH_RULES, { logAllowed: false })),
      };
    case "sluice-delay":
      return {
        ...origin,
        ...store,
        SLUICE_POLICY: JSON.stringify(sluicePolicy(BENCH_RULES, { maxDelay: "1s" })),
      };
    case "sluice-concurrency":
      return {
        ...origin,
        ...store,
        SLUICE_POLICY: JSON.stringify(sluicePolicy(BENCH_RULES, { concurrency: 1000 })),
      };
    case "sluice-adaptive":
      return {
        ...origin,
        ...store,
        SLUICE_POLICY: JSON.stringify(sluicePolicy(BENCH_RULES, { adaptive: true })),
      };
    case "sluice-dark":
      return {
        ...origin,
        ...store,
        SLUICE_POLICY: JSON.stringify(sluicePolicy(BENCH_RULES)),
        SLUICE_METRICS_OFF: "1",
      };
    case "sluice-observed":
      // The origin answers any POST at once: a collector that costs nothing.
      return {
        ...origin,
        ...store,
        SLUICE_POLICY: JSON.stringify(sluicePolicy(BENCH_RULES)),
        SLUICE_OTLP_ENDPOINT: `${at.originUrl}/v1/traces`,
      };
    case "upstash-ratelimit":
    case "hono-rate-limiter":
      return { ...origin, ...store, BENCH_RULES };
  }
}

/** Log lines the Workers wrote, since the last `take()`. */
export interface LogCounter {
  lines: number;
  /** Lines saying a limiter failed open (Sluice's `degraded-allowed`, a peer's timeout). */
  degraded: number;
}

export interface Workerd {
  /** Each contender's own socket in workerd, straight to its Worker. */
  urls: Map<ContenderName, URL>;
  /** The workerd process Miniflare started (undefined where /proc is not available). */
  pid: number | undefined;
  /** CPU time workerd has used so far, in ms (NaN when unknown). */
  cpuMs(): number;
  /** Log counts since the previous call (one contender runs at a time, so they are its). */
  takeLogs(): LogCounter;
  /**
   * RPCs each limit-store object of Worker `name` says it has received, by
   * object id; undefined when the class keeps no such count.
   */
  storeObjectCalls(name: ContenderName): Promise<Map<string, number> | undefined>;
  dispose(): Promise<void>;
}

/**
 * Loads every bundle into one workerd (Miniflare's Node API, not `wrangler
 * dev` and its proxy). Each Worker gets a direct socket, so requests reach it
 * without Miniflare's entry Worker in between, and the bindings wrangler
 * derives from its config (Sluice's Durable Objects, compatibility date).
 *
 * @example
 * const workerd = await startWorkerd(bundles, (name) => ({ ORIGIN_URL: origin }));
 */
export async function startWorkerd(
  bundles: readonly Bundle[],
  bindingsFor: (name: ContenderName) => Record<string, Json>,
  options: { inspectorPort?: number } = {},
): Promise<Workerd> {
  const counter: LogCounter = { lines: 0, degraded: 0 };
  const workers: V4WorkerOptions[] = bundles.map((b) => {
    const { workerOptions } = unstable_getMiniflareWorkerOptions(b.configPath);
    // The bundle is one module: no rules needed to find others (and v5 options
    // have none). The config's vars (only an empty ORIGIN_URL) give way to ours.
    const { modulesRules: _rules, bindings: _vars, ...fromConfig } = workerOptions;
    return {
      ...fromConfig,
      name: b.name,
      modules: true,
      scriptPath: path.join(b.outdir, b.mainModule),
      modulesRoot: b.outdir,
      bindings: bindingsFor(b.name),
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
    };
  });
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers,
      ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
      // No download of the `request.cf` sample: offline, and the same for everyone.
      cf: false,
      handleStructuredLogs: (log) => {
        counter.lines++;
        const message = log.message;
        if (message.includes("degraded")) counter.degraded++;
        if (log.level === "error") console.error(`workerd: ${message.slice(0, 500)}`);
      },
    }),
  );
  try {
    await mf.ready;
  } catch (err) {
    // Whatever Miniflare started before failing goes too.
    await mf.dispose().catch(() => undefined);
    throw err;
  }
  const urls = new Map<ContenderName, URL>();
  for (const b of bundles) urls.set(b.name, await mf.unsafeGetDirectURL(b.name));
  const pid = findChild(process.pid, "workerd");
  return {
    urls,
    pid,
    cpuMs: () => (pid === undefined ? Number.NaN : cpuMs(pid)),
    storeObjectCalls: (name) => storeObjectCalls(mf, name),
    takeLogs: () => {
      const taken = { ...counter };
      counter.lines = 0;
      counter.degraded = 0;
      return taken;
    },
    dispose: async () => {
      await mf.dispose();
      // Miniflare stops workerd itself; make sure, by its PID.
      if (pid !== undefined && findChild(process.pid, "workerd") === pid) {
        process.kill(pid, "SIGKILL");
      }
    },
  };
}

/** What the benchmark asks of a limit-store object (`SluiceStore`): its own count of RPCs received. */
export interface StoreObjectStats {
  /** RPCs received since the object started, its `stats()` calls excepted. */
  calls: number;
}

/** The Durable Object binding Sluice keeps its limits behind (`wrangler.toml`). */
const LIMIT_STORE_BINDING = "SLUICE_STORE";

/**
 * Asks every limit-store object the Worker has created (Miniflare lists them
 * from their SQLite files) for its count of RPCs. Counts live in the
 * objects, so this is what they received, however the Worker batched or
 * sharded its calls. Undefined when the class has no `stats()` method.
 */
async function storeObjectCalls(
  mf: Miniflare,
  name: ContenderName,
): Promise<Map<string, number> | undefined> {
  const ids = await mf.listDurableObjectIds(LIMIT_STORE_BINDING, name);
  const ns = await mf.getDurableObjectNamespace(LIMIT_STORE_BINDING, name);
  const calls = new Map<string, number>();
  for (const id of ids) {
    const stub = ns.get(ns.idFromString(id)) as unknown as { stats(): Promise<StoreObjectStats> };
    try {
      calls.set(id, (await stub.stats()).calls);
    } catch (err) {
      if (/does not implement the method/.test(String(err))) return undefined;
      throw err;
    }
  }
  return calls;
}

/** Fields of `/proc/<pid>/stat` after the command name (which may contain spaces). */
function statFields(pid: number | string): { comm: string; fields: string[] } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    return {
      comm: stat.slice(stat.indexOf("(") + 1, close),
      fields: stat.slice(close + 2).split(" "),
    };
  } catch {
    return undefined;
  }
}

/** The PID of `parent`'s child process named `comm`, from /proc (Linux). */
export function findChild(parent: number, comm: string): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    const stat = statFields(entry);
    // fields[1] is the parent PID (proc(5): field 4).
    if (stat?.comm === comm && Number(stat.fields[1]) === parent) return Number(entry);
  }
  return undefined;
}

/** User + system CPU time of a process in ms (proc(5): utime and stime, in clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = statFields(pid);
  if (!stat) return Number.NaN;
  return (Number(stat.fields[11]) + Number(stat.fields[12])) * 10;
}
