/**
 * @module scripts/consumer-check — `npm run pack:check`: builds and packs the package,
 * installs the tarball offline into a fresh project (only `hono` and `@upstash/redis`
 * beside it, from this repo's install), and runs README's middleware snippet on Node and,
 * bundled by wrangler, in workerd, against a local Redis behind the Upstash REST endpoint.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { startRedis } from "../tools/redis.ts";
import { startUpstashRest } from "../tools/upstash-rest.ts";
import { build } from "./build-package.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const APP = join(ROOT, "build/consumer");
const BIN = join(ROOT, "node_modules/.bin");
const EXPECTED = [200, 200, 200, 429];

/** The first ```ts block of README's "Using the middleware in your own Hono app". */
export function readmeSnippet(readme: string): string {
  const section = readme.slice(readme.indexOf("## Using the middleware in your own Hono app"));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("README has no middleware snippet");
  return block;
}

function sh(cmd: string, args: string[], cwd = APP): string {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      // Shims run `#!/usr/bin/env node`: make that the repo's Node 22, whatever the cwd.
      PATH: `${BIN}${delimiter}${process.env.PATH ?? ""}`,
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
    },
  });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`pack:check: ${what}`);
  console.log(`ok  ${what}`);
}

/** A fresh project that depends on the tarball, as README tells an app to. */
function writeProject(tarball: string, prelude: string, snippet: string): void {
  rmSync(APP, { recursive: true, force: true });
  mkdirSync(APP, { recursive: true });
  const nm = join(ROOT, "node_modules");
  const pkg = {
    name: "consumer",
    private: true,
    type: "module",
    dependencies: {
      "@sluice-gateway/sluice": `file:${tarball}`,
      hono: `file:${join(nm, "hono")}`,
      "@upstash/redis": `file:${join(nm, "@upstash/redis")}`,
    },
  };
  writeFileSync(join(APP, "package.json"), JSON.stringify(pkg, null, 2));
  writeFileSync(join(APP, "app.ts"), `${prelude}\n${snippet}\nexport default app;\n`);
  writeFileSync(
    join(APP, "node.ts"),
    `import app from "./app.ts";
const out = [];
for (let i = 0; i < 4; i++) {
  const res = await app.request("/api/hello");
  out.push({ status: res.status, retryAfter: res.headers.get("retry-after"), ratelimit: res.headers.get("ratelimit") });
}
console.log(JSON.stringify(out));
`,
  );
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "ESNext",
      moduleResolution: "Bundler",
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      types: ["node"],
      typeRoots: [join(nm, "@types")],
    },
    files: ["app.ts"],
  };
  writeFileSync(join(APP, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  writeFileSync(
    join(APP, "wrangler.toml"),
    'name = "consumer"\nmain = "app.ts"\ncompatibility_date = "2026-10-01"\n',
  );
}

async function inWorkerd(): Promise<number[]> {
  sh(join(BIN, "wrangler"), [
    "deploy",
    "--dry-run",
    "--outdir",
    "out",
    "--metafile",
    "out/meta.json",
  ]);
  const meta = JSON.parse(readFileSync(join(APP, "out/meta.json"), "utf8")) as {
    inputs: Record<string, unknown>;
  };
  const honoCopies = new Set(
    Object.keys(meta.inputs).flatMap((p) => {
      const at = p.lastIndexOf("node_modules/hono/");
      return at < 0 ? [] : [p.slice(0, at)];
    }),
  );
  check(
    honoCopies.size === 1,
    `the workerd bundle holds one copy of hono (${[...honoCopies].map((p) => `${p}node_modules/hono`)})`,
  );
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      scriptPath: join(APP, "out/app.js"),
      compatibilityDate: "2026-10-01",
      // The snippet's decision log lines; Node's run already shows them.
      handleStructuredLogs: () => {},
    }),
  );
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await mf.dispatchFetch("http://consumer.test/api/hello");
      await res.text();
      statuses.push(res.status);
    }
    return statuses;
  } finally {
    await mf.dispose();
  }
}

/** Writes the project around README's snippet and installs the tarball; `rule` keeps runs' counters apart. */
function install(tarball: string, rest: { url: string; token: string }, rule: string): void {
  const snippet = readmeSnippet(readFileSync(join(ROOT, "README.md"), "utf8"));
  // README leaves where Redis is to the app.
  const prelude = `const url = ${JSON.stringify(rest.url)};\nconst token = ${JSON.stringify(rest.token)};`;
  writeProject(tarball, prelude, snippet.replace('name: "hello"', `name: "${rule}"`));
  sh("npm", ["install", "--offline", "--no-audit", "--no-fund"]);
}

function onNode(): void {
  sh(join(BIN, "tsc"), ["-p", "tsconfig.json"]);
  check(true, "README's snippet type-checks against the package's .d.ts");
  // The snippet keeps the default sink: decision log lines come first, the result last.
  const lines = sh(join(BIN, "node"), ["node.ts"]).trim().split("\n");
  const node = JSON.parse(lines[lines.length - 1] ?? "") as Array<{
    status: number;
    retryAfter: string | null;
  }>;
  const statuses = node.map((r) => r.status);
  check(`${statuses}` === `${EXPECTED}`, `on Node: ${statuses.join(", ")}`);
  check(node[3]?.retryAfter === "20", "on Node the 429 says Retry-After: 20");
}

function packagedCli(): void {
  const sluice = join(APP, "node_modules/.bin/sluice");
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  const said = sh(sluice, ["--version"]).trim();
  check(said.endsWith(version), `the packaged CLI: sluice --version → ${said}`);
  check(/^policy OK/.test(sh(sluice, ["policy", "check"])), "the packaged CLI checks its policy");
}

async function main(): Promise<void> {
  const tarball = build();
  console.log(`packed ${tarball}`);
  const redis = await startRedis();
  const token = "pack-check-token";
  const rest = await startUpstashRest({ redisPort: redis.port, token });
  const run = Date.now().toString(36);
  try {
    install(tarball, { url: rest.url, token }, `hello-${run}-node`);
    check(true, "the tarball installs offline beside the repo's hono and @upstash/redis");
    onNode();
    install(tarball, { url: rest.url, token }, `hello-${run}-workerd`);
    const workerd = await inWorkerd();
    check(`${workerd}` === `${EXPECTED}`, `in workerd: ${workerd.join(", ")}`);
    packagedCli();
  } finally {
    await rest.close();
    await redis.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
