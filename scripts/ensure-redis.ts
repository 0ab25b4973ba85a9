/** @module scripts/ensure-redis — before `npm test`: find redis-server, install it with apt where we may, or say how in one line. */
import { spawnSync } from "node:child_process";

const HOW =
  "redis-server is missing: install it with `sudo apt-get install -y redis-server`, then run npm test again";

function found(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

function canApt(): boolean {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return root && spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status === 0;
}

/** Installs quietly; apt's own output is shown only when it fails. */
function aptInstall(): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [
    ["update", "-qq"],
    ["install", "-y", "-qq", "redis-server"],
  ]) {
    const run = spawnSync("apt-get", args, { env, encoding: "utf8" });
    if (run.status !== 0) {
      process.stderr.write(run.stderr.split("\n").slice(-5).join("\n"));
      return false;
    }
  }
  return found();
}

if (!found()) {
  if (canApt()) {
    process.stderr.write("redis-server is missing; installing it with apt-get (root)\n");
    if (!aptInstall()) {
      process.stderr.write(`\n${HOW}\n`);
      process.exit(1);
    }
  } else {
    process.stderr.write(`${HOW}\n`);
    process.exit(1);
  }
}
