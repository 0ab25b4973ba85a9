/** @module bench/profile — where one contender's time goes: a V8 CPU profile of its Worker under the benchmark's load, per function, mapped back to the source. */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { SourceMap, type SourceMapPayload } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { findFreePort } from "../tools/redis.ts";
import { type CallFrame, type CpuProfile, summarizeProfile } from "./harness.ts";
import { runLoad, type Subject } from "./load.ts";
import { type Started, setStoreLatency, startStack } from "./services.ts";
import {
  bundleContender,
  CONTENDERS,
  type ContenderName,
  contenderBindings,
  startWorkerd,
  type Workerd,
} from "./workers.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const OUT = path.join(ROOT, "bench", "out");
const USAGE = `usage: node bench/profile.ts <${CONTENDERS.join("|")}> [--duration s] [--latency ms] [--top n]`;

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    duration: { type: "string", default: "6" },
    latency: { type: "string", default: "0" },
    connections: { type: "string", default: "32" },
    top: { type: "string", default: "30" },
  },
});
const name = positionals[0] as ContenderName | undefined;
if (!name || !CONTENDERS.includes(name)) {
  console.error(USAGE);
  process.exit(2);
}

const started: Started[] = [];
let workerd: Workerd | undefined;

/** One request/response pair with the inspector of a Worker (Chrome DevTools Protocol). */
class Inspector {
  readonly #ws: WebSocket;
  readonly #waiting = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();
  #id = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
      if (message.id !== undefined) this.#waiting.get(message.id)?.(message);
    });
  }

  static async open(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", reject, { once: true });
    });
    return new Inspector(ws);
  }

  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#id;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, (message) => {
        this.#waiting.delete(id);
        if (message.error) reject(new Error(`${method}: ${JSON.stringify(message.error)}`));
        else resolve(message.result as T);
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.#ws.close();
  }
}

/** Names a frame by function and position, mapped back to the source for frames in the bundle. */
function labeller(bundleFile: string): (frame: CallFrame) => string {
  const mapFile = `${bundleFile}.map`;
  const map = new SourceMap(JSON.parse(readFileSync(mapFile, "utf8")) as SourceMapPayload);
  const bundleName = path.basename(bundleFile);
  return (frame) => {
    const fn = frame.functionName || "(anonymous)";
    if (!frame.url || frame.lineNumber < 0) return fn;
    const where = `${frame.url}:${frame.lineNumber + 1}`;
    // Runtime frames (node-internal:…) are not in the bundle: its map would misplace them.
    if (path.basename(frame.url) !== bundleName) return `${fn} ${where}`;
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber);
    if (!("originalSource" in entry)) return `${fn} ${bundleName}:${frame.lineNumber + 1}`;
    const source = path.relative(ROOT, path.resolve(path.dirname(mapFile), entry.originalSource));
    return `${fn} ${source}:${entry.originalLine + 1}`;
  };
}

async function main(contender: ContenderName): Promise<void> {
  const durationSec = Number(args.duration);
  const latencyMs = Number(args.latency);
  const bundle = await bundleContender(contender, path.join(OUT, "profile"));
  const stack = await startStack((p) => started.push(p));
  const inspectorPort = await findFreePort();
  workerd = await startWorkerd([bundle], (n) => contenderBindings(n, stack), { inspectorPort });
  const base = workerd.urls.get(contender) as URL;
  const subjects: Subject[] = Array.from({ length: 256 }, (_, i) => ({
    apiKey: `profile-${i}`,
    ip: `10.2.0.${(i % 64) + 1}`,
  }));
  const connections = Number(args.connections);
  await setStoreLatency(stack, latencyMs);
  await runLoad({ base, path: "/api/warmup", connections, durationSec: 2, subjects });

  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    id: string;
    webSocketDebuggerUrl: string;
  }[];
  const target = targets.find((t) => t.id === `core:user:${contender}`);
  if (!target) throw new Error(`no inspector target for ${contender}`);
  const inspector = await Inspector.open(target.webSocketDebuggerUrl);
  await inspector.call("Profiler.enable");
  await inspector.call("Profiler.setSamplingInterval", { interval: 100 });
  await inspector.call("Profiler.start");
  const startedAt = performance.now();
  const load = await runLoad({ base, path: "/api/profile", connections, durationSec, subjects });
  const { profile } = await inspector.call<{ profile: CpuProfile }>("Profiler.stop");
  const wallMs = performance.now() - startedAt;
  inspector.close();

  const file = path.join(OUT, `${contender}.cpuprofile`);
  await mkdir(OUT, { recursive: true });
  await writeFile(file, JSON.stringify(profile));
  const perRequestUs = (wallMs * 1000) / load.sent;
  const entries = summarizeProfile(profile, labeller(path.join(bundle.outdir, bundle.mainModule)));
  const top = Number(args.top);
  const us = (share: number) => (share * perRequestUs).toFixed(0).padStart(6);
  const pct = (share: number) => (share * 100).toFixed(1).padStart(6);
  console.log(
    `${contender}, store +${latencyMs} ms, ${connections} connections × ${durationSec} s: ` +
      `${(load.responses / load.seconds).toFixed(0)} req/s; ${perRequestUs.toFixed(0)} µs of the Worker's thread per request ` +
      "(its share of samples × wall time / requests sent; (idle) is time the thread waited)",
  );
  console.log("\nby time in the function and what it called:");
  console.log(" total%  µs/req   self%  µs/req  function");
  for (const e of entries.slice(0, top)) {
    console.log(`${pct(e.total)}  ${us(e.total)}  ${pct(e.self)}  ${us(e.self)}  ${e.name}`);
  }
  console.log("\nby time in the function itself:");
  console.log("  self%  µs/req  function");
  for (const e of [...entries].sort((a, b) => b.self - a.self).slice(0, top)) {
    console.log(`${pct(e.self)}  ${us(e.self)}  ${e.name}`);
  }
  console.log(`\nprofile for Chrome DevTools: ${path.relative(ROOT, file)}`);
}

async function cleanup(): Promise<void> {
  await workerd?.dispose().catch((err: unknown) => console.error("stopping workerd:", err));
  for (const p of started.reverse()) await p.stop().catch(() => undefined);
}

process.once("SIGINT", () => void cleanup().then(() => process.exit(130)));
main(name).then(
  async () => {
    await cleanup();
    process.exit(0);
  },
  async (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    await cleanup();
    process.exit(1);
  },
);
