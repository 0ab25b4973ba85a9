/**
 * @module scripts/build-package — `npm run build`: the installable package in build/package
 * (ESM + .d.ts from tsc, its own package.json and `sluice` bin), then `npm pack` of it
 * into build/. The repo itself runs from source; only this copy is built.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "build/package");
const BIN = join(ROOT, "node_modules/.bin");

/** Subpath → entry module, without extension (the repo's own exports map points at the .ts). */
export const ENTRIES: Record<string, string> = {
  ".": "lib",
  "./redis": "lib-redis",
  "./durable-object": "lib-durable-object",
  "./gateway": "lib-gateway",
};

interface RootManifest {
  name: string;
  version: string;
  description: string;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
}

/**
 * The published manifest: the same name, version and runtime dependencies,
 * `hono` as a peer so an app bundles one copy, ESM exports with types per
 * subpath, and no side effects so bundlers drop what an app does not use.
 * Still `private`: this repository does not publish it.
 *
 * @example
 * manifest(JSON.parse(readFileSync("package.json", "utf8"))).exports["./redis"];
 * // { types: "./dist/lib-redis.d.ts", default: "./dist/lib-redis.js" }
 */
export function manifest(root: RootManifest) {
  const exports: Record<string, unknown> = {};
  for (const [subpath, entry] of Object.entries(ENTRIES)) {
    exports[subpath] = { types: `./dist/${entry}.d.ts`, default: `./dist/${entry}.js` };
  }
  exports["./policy.schema.json"] = "./dist/sluice.policy.schema.json";
  exports["./package.json"] = "./package.json";
  return {
    name: root.name,
    version: root.version,
    private: true,
    description: root.description,
    type: "module",
    exports,
    bin: { sluice: "bin/sluice.js" },
    files: ["dist", "bin", "README.md"],
    sideEffects: false,
    dependencies: root.dependencies,
    peerDependencies: root.peerDependencies,
    engines: { node: ">=20" },
  };
}

/** The package's `sluice` command: plain JS on any supported Node, no re-exec. */
const BIN_SCRIPT = `#!/usr/bin/env node
// \`sluice\` command of the built package (the repository runs src/cli through bin/sluice.js).
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2), {
  out: (t) => process.stdout.write(\`\${t}\\n\`),
  err: (t) => process.stderr.write(\`\${t}\\n\`),
  env: process.env,
});
`;

function run(cmd: string, args: string[], cwd = ROOT): void {
  const r = spawnSync(cmd, args, { cwd, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status})`);
}

/** Declarations keep the sources' `.ts` specifiers; consumers resolve the emitted `.js`. */
function rewriteDeclarations(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) rewriteDeclarations(path);
    else if (entry.name.endsWith(".d.ts")) {
      const text = readFileSync(path, "utf8");
      writeFileSync(
        path,
        text.replace(/((?:from\s+|import\()["']\.{1,2}\/[^"']*?)\.ts(["'])/g, "$1.js$2"),
      );
    }
  }
}

/** Builds build/package and packs it; returns the tarball's path. */
export function build(): string {
  rmSync(join(ROOT, "build"), { recursive: true, force: true });
  run(join(BIN, "tsc"), ["-p", "tsconfig.build.json"]);
  // The Worker's own entry comes along through worker-configuration.d.ts; it is no export.
  for (const file of ["index.js", "index.d.ts"]) rmSync(join(OUT, "dist", file));
  rewriteDeclarations(join(OUT, "dist"));
  for (const json of ["sluice.policy.json", "sluice.policy.schema.json"]) {
    copyFileSync(join(ROOT, "src", json), join(OUT, "dist", json));
  }
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as RootManifest;
  writeFileSync(join(OUT, "package.json"), `${JSON.stringify(manifest(root), null, 2)}\n`);
  mkdirSync(join(OUT, "bin"));
  writeFileSync(join(OUT, "bin/sluice.js"), BIN_SCRIPT, { mode: 0o755 });
  copyFileSync(join(ROOT, "README.md"), join(OUT, "README.md"));
  const pack = spawnSync("npm", ["pack", OUT, "--pack-destination", join(ROOT, "build")], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (pack.status !== 0) throw new Error(`npm pack failed:\n${pack.stderr}`);
  const file = pack.stdout.trim().split("\n").pop() ?? "";
  return join(ROOT, "build", file);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(build());
}
