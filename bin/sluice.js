#!/usr/bin/env node
// `sluice` command: runs src/cli/main.ts on a Node that strips TypeScript
// types (≥ 22.18); on an older Node, re-runs itself with the repo's Node 22
// from the `node` devDependency.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const [major, minor] = process.versions.node.split(".").map(Number);
const stripsTypes = major > 22 || (major === 22 && minor >= 18);

if (stripsTypes) {
  const { main } = await import(cli);
  // Questions only at a terminal: a script or a pipe is never asked.
  const interactive = process.stdin.isTTY && process.stdout.isTTY;
  process.exitCode = await main(process.argv.slice(2), {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    env: process.env,
    ...(interactive ? { confirm: ask } : {}),
  });
} else {
  const node22 = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url));
  if (!existsSync(node22)) {
    process.stderr.write(
      `sluice: needs Node 22.18 or newer (this is ${process.version}); run "npm ci" to get it\n`,
    );
    process.exit(1);
  }
  const child = spawn(node22, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

/** Asks `question` on the terminal; only "y" or "yes" goes ahead. */
async function ask(question) {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
