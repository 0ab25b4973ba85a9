/** @module scripts/ensure-tools — before `npm test`: find redis-server, promtool and chromium, install the missing ones with apt where we may, or say how in one line. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** What the tests run for real, and the Debian package each comes in. */
export const TOOLS: ReadonlyArray<{ command: string; pkg: string }> = [
  { command: "redis-server", pkg: "redis-server" }, // the store in every Redis test
  { command: "promtool", pkg: "prometheus" }, // checks the metrics text
  { command: "chromium", pkg: "chromium" }, // the dashboard's browser test
];

/**
 * The packages to install for the tools `found` says are missing, or the
 * one line that says how when this process may not install them.
 *
 * @example
 * plan((c) => c !== "promtool", false); // { packages: ["prometheus"], how: "promtool is missing: …" }
 */
export function plan(
  found: (command: string) => boolean,
  mayInstall: boolean,
): { packages: string[]; how?: string } {
  const missing = TOOLS.filter((t) => !found(t.command));
  const packages = missing.map((t) => t.pkg);
  if (packages.length === 0 || mayInstall) return { packages };
  const names = missing.map((t) => t.command).join(", ");
  const how = `${names} ${missing.length === 1 ? "is" : "are"} missing: install with \`sudo apt-get install -y ${packages.join(" ")}\`, then run npm test again`;
  return { packages, how };
}

function found(command: string): boolean {
  return spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;
}

function canApt(): boolean {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return root && spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status === 0;
}

/** Installs quietly; apt's own output is shown only when it fails. */
function aptInstall(packages: readonly string[]): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [
    ["update", "-qq"],
    ["install", "-y", "-qq", ...packages],
  ]) {
    const run = spawnSync("apt-get", args, { env, encoding: "utf8" });
    if (run.status !== 0) {
      process.stderr.write(run.stderr.split("\n").slice(-5).join("\n"));
      return false;
    }
  }
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mayInstall = canApt();
  const { packages, how } = plan(found, mayInstall);
  if (how) {
    process.stderr.write(`${how}\n`);
    process.exit(1);
  }
  if (packages.length > 0) {
    process.stderr.write(`installing ${packages.join(", ")} with apt-get (root)\n`);
    aptInstall(packages);
    // Whatever apt did, the tools are looked for again.
    const after = plan(found, false);
    if (after.how) {
      process.stderr.write(`\n${after.how}\n`);
      process.exit(1);
    }
  }
}
