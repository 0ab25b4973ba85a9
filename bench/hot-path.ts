/**
 * @module bench/hot-path — what each step of Sluice's request path costs in
 * workerd, per call, and what each hot-path change bought: the step runs in a
 * loop inside a Worker (`bench/hot-path-worker.ts`), before and after the
 * change, and workerd's CPU time (from /proc) is divided by the count.
 * Timing inside the Worker would not do: workerd's clocks stand still while
 * JavaScript runs.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { median } from "./harness.ts";
import { BENCH_RULES, sluicePolicy } from "./limits.ts";
import { markdownTable } from "./report.ts";
import { type Started, startStack } from "./services.ts";
import { type ContenderName, contenderBindings, cpuMs, findChild, run } from "./workers.ts";

/** Idle time after each request before workerd's CPU is read again. */
const SETTLE_MS = 100;
const ROOT = path.resolve(import.meta.dirname, "..");
const OUT = path.join(ROOT, "bench", "out", "hot-path");

/** The steps a change replaced; each runs once per request of the benchmark's load. */
const CHANGES = [
  {
    step: "key-hash",
    change: "API key hashes remembered per isolate (1fcd5e0)",
  },
  {
    step: "request-headers",
    change: "request headers built in one pass, header keys cached (b483d66)",
  },
  {
    step: "response-headers",
    change: "origin's headers passed on uncopied when nothing hop-by-hop is in them (b483d66)",
  },
  {
    step: "runtime-lookup",
    change: "runtime found by env object, not by re-serialising the policy (010c690)",
  },
] as const;

/**
 * Whole requests, one at a time, through each contender's own app (the
 * benchmark's bundles' code): origin and store round trips included, no
 * concurrency, so what Sluice adds is not hidden by queueing.
 */
const REQUESTS = [
  "bare",
  "bare-1rt",
  "sluice",
  "sluice-quiet",
  "sluice-dark",
  "sluice-unmatched",
] as const;

/** `sluice-unmatched` is `sluice-quiet` asked for a path no rule matches. */
const BINDINGS_OF: Partial<Record<(typeof REQUESTS)[number], ContenderName>> = {
  "sluice-unmatched": "sluice-quiet",
};

/** Steps priced on their own: what the log line and a timer cost. */
const COSTS = [
  { step: "log-line:print", what: "decision log line: JSON.stringify + console.log" },
  {
    step: "log-line:print-per-turn",
    what: "decision log line printed, then a timer fires (one line per event-loop turn)",
  },
  { step: "log-line:stringify", what: "decision log line: JSON.stringify alone" },
  { step: "timer:set-clear", what: "a timer: setTimeout + clearTimeout" },
  { step: "timer:abort-controller", what: "an AbortController" },
  { step: "timer:fire", what: "a timer that fires (setTimeout 0, awaited)" },
  { step: "timer:fire-32", what: "a timer that fires with 31 others due at once (setTimeout 1)" },
  { step: "store:upstash-client", what: "an EVALSHA through Sluice's @upstash/redis client" },
  {
    step: "store:redis-store-decide",
    what: "a decision of two limits through Sluice's Redis store (group commit, lone)",
  },
  { step: "store:plain-fetch", what: "the same EVALSHA as one plain fetch" },
  { step: "fetch:origin", what: "a subrequest to the origin, body read" },
] as const;

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    "cpu-ms": { type: "string", default: "400" },
    /** Only the steps whose names start with one of these (comma-separated). */
    only: { type: "string", default: "" },
  },
});
const rounds = Number(args.rounds);
const targetCpuMs = Number(args["cpu-ms"]);
if (!(Number.isInteger(rounds) && rounds > 0 && targetCpuMs >= 50)) {
  console.error("usage: node bench/hot-path.ts [--rounds n] [--cpu-ms ms ≥ 50]");
  process.exit(2);
}

const started: Started[] = [];
let mf: Miniflare | undefined;
try {
  const stack = await startStack((p) => started.push(p));
  await mkdir(OUT, { recursive: true });
  const scriptPath = path.join(OUT, "worker.js");
  // Minified like the deployed bundle (wrangler.toml `minify = true`).
  await run(path.join(ROOT, "node_modules", ".bin", "esbuild"), [
    path.join(ROOT, "bench", "hot-path-worker.ts"),
    "--bundle",
    "--minify",
    "--format=esm",
    "--platform=browser",
    "--target=es2022",
    // The runtime's own modules, as wrangler leaves them.
    "--external:cloudflare:*",
    "--external:node:*",
    `--outfile=${scriptPath}`,
  ]);
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(ROOT, "wrangler.toml"));
  mf = new Miniflare(
    convertV4MiniflareOptions({
      workers: [
        {
          name: "hot-path",
          modules: true,
          scriptPath,
          compatibilityDate: String(workerOptions.compatibilityDate),
          compatibilityFlags: (workerOptions.compatibilityFlags ?? []) as string[],
          bindings: {
            ORIGIN_URL: stack.originUrl,
            UPSTASH_REDIS_REST_URL: stack.restUrl,
            UPSTASH_REDIS_REST_TOKEN: stack.restToken,
            SLUICE_POLICY: JSON.stringify(sluicePolicy(BENCH_RULES)),
            CONTENDERS: Object.fromEntries(
              REQUESTS.map((n) => [
                n,
                contenderBindings(BINDINGS_OF[n] ?? (n as ContenderName), stack),
              ]),
            ),
          },
          unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
        },
      ],
      cf: false,
      // As in the benchmark: workerd writes each console.log as a structured line.
      handleStructuredLogs: () => {},
    }),
  );
  await mf.ready;
  const url = await mf.unsafeGetDirectURL("hot-path");
  const pid = findChild(process.pid, "workerd");
  if (pid === undefined) throw new Error("workerd's PID was not found in /proc");

  /** The load's request headers: an API key and the edge's client address. */
  const call = async (query: string): Promise<void> => {
    const res = await fetch(new URL(query, url), {
      headers: { "x-api-key": "sk_bench_0017", "cf-connecting-ip": "10.0.0.17" },
    });
    if (!res.ok) throw new Error(`${query}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  /** workerd CPU µs per call of `step`, over `n` calls in one request. */
  const perCall = async (step: string, n: number): Promise<{ us: number; cpu: number }> => {
    const before = cpuMs(pid);
    await call(`/?step=${step}&n=${n}`);
    // Work workerd does after the response (writing out log lines) counts too.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const cpu = cpuMs(pid) - before;
    return { us: (cpu * 1000) / n, cpu };
  };

  const names = ["noop", ...CHANGES.flatMap((c) => [`${c.step}:before`, `${c.step}:after`])];
  names.push(...COSTS.map((c) => c.step), ...REQUESTS.map((n) => `request:${n}`));
  const only = args.only.split(",").filter(Boolean);
  if (only.length > 0) {
    const kept = names.filter((n) => n === "noop" || only.some((o) => n.startsWith(o)));
    names.splice(0, names.length, ...kept);
  }
  // A step this list names and the Worker lacks fails here, before any measuring.
  const known = (await (await fetch(new URL("/steps", url))).json()) as string[];
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new Error(`the Worker has no step ${unknown.join(", ")}`);
  // Each step's count: enough calls for `targetCpuMs` of CPU (the clock ticks every 10 ms).
  const counts = new Map<string, number>();
  for (const step of names) {
    let n = 1000;
    for (;;) {
      const { cpu } = await perCall(step, n);
      if (cpu >= targetCpuMs / 4 || n >= 4_000_000) break;
      n *= 4;
    }
    const { cpu } = await perCall(step, n);
    counts.set(step, Math.max(1000, Math.round((n * targetCpuMs) / Math.max(cpu, 10))));
  }
  const samples = new Map<string, number[]>(names.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) {
    // Rotated each round, so no step always follows the same one.
    const order = names.map((_, i) => names[(i + r) % names.length] as string);
    for (const step of order) {
      samples.get(step)?.push((await perCall(step, counts.get(step) as number)).us);
    }
  }
  const loop = median(samples.get("noop") ?? []);
  const cost = (step: string) => median(samples.get(step) ?? []) - loop;
  const us = (v: number) => (Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(1));
  /** The rounds' lowest and highest, so a reader sees how far to trust the median. */
  const range = (step: string) => {
    const xs = samples.get(step) ?? [];
    return `${us(Math.min(...xs) - loop)}–${us(Math.max(...xs) - loop)}`;
  };

  console.log(
    `Hot-path steps in workerd, CPU µs per call (median of ${rounds} rounds, the loop's own ${us(loop)} µs taken off)\n`,
  );
  console.log(
    markdownTable(
      ["change", "before", "after", "saved per request", "rounds (before; after)"],
      CHANGES.filter((c) => names.includes(`${c.step}:after`)).map((c) => {
        const before = cost(`${c.step}:before`);
        const after = cost(`${c.step}:after`);
        const rounds = `${range(`${c.step}:before`)}; ${range(`${c.step}:after`)}`;
        return [c.change, us(before), us(after), us(before - after), rounds];
      }),
      1,
    ),
  );
  console.log("");
  console.log(
    markdownTable(
      ["step", "µs per call", "rounds"],
      COSTS.filter((c) => names.includes(c.step)).map((c) => [
        c.what,
        us(cost(c.step)),
        range(c.step),
      ]),
      1,
    ),
  );
  const bare1rt = cost("request:bare-1rt");
  console.log("");
  console.log(
    markdownTable(
      ["whole request, one at a time", "CPU µs", "over bare-1rt", "rounds"],
      REQUESTS.filter((n) => names.includes(`request:${n}`)).map((n) => {
        const v = cost(`request:${n}`);
        const d = v - bare1rt;
        const over =
          n === "bare" || n === "bare-1rt" || Number.isNaN(d)
            ? "–"
            : `${d < 0 ? "−" : "+"}${us(Math.abs(d))}`;
        return [n, us(v), over, range(`request:${n}`)];
      }),
      1,
    ),
  );
} finally {
  await mf?.dispose();
  for (const p of started.reverse()) await p.stop().catch(() => undefined);
}
