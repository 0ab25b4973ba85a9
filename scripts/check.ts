/**
 * @module scripts/check — `npm run check [file]`: the policy (`sluice policy check`), then
 * what `wrangler deploy` would send as ORIGIN_URL; `--deploy` (run by `npm run deploy`)
 * makes a bad ORIGIN_URL an error, so it never reaches `wrangler deploy`.
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../src/cli/main.ts";
import { parseOrigin } from "../src/gateway/origin.ts";

/** What the deploy configuration says about ORIGIN_URL: nothing wrong, a note, or an error. */
export interface DeployFinding {
  level: "ok" | "note" | "error";
  message: string;
}

/**
 * Reads `wrangler.toml` (one environment) as wrangler would and checks the
 * ORIGIN_URL it would deploy with the gateway's own rules.
 *
 * @example
 * await deployFinding("wrangler.toml"); // → { level: "error", message: "wrangler.toml: ERR_SLUICE_ORIGIN_URL: …" }
 */
export async function deployFinding(configPath: string, env?: string): Promise<DeployFinding> {
  // Loaded only when the policy passed: wrangler is large.
  const { unstable_readConfig } = await import("wrangler");
  const config = unstable_readConfig({ config: configPath, ...(env ? { env } : {}) });
  const file = relative(process.cwd(), configPath) || configPath;
  const where = env ? `${file} [env.${env}]` : file;
  const vars = config.vars as Record<string, unknown>;
  if (!("ORIGIN_URL" in vars)) {
    return {
      level: "note",
      message: `${where}: ORIGIN_URL is not in [vars]; deploy it as a secret (npx wrangler secret put ORIGIN_URL), or every request gets 500`,
    };
  }
  const raw = vars.ORIGIN_URL;
  const origin = parseOrigin(typeof raw === "string" ? raw : undefined);
  if (typeof origin === "string") {
    return {
      level: "error",
      message: `${where}: ${origin}; set [vars] ORIGIN_URL to your API's base URL, like "https://api.internal.example/v1"`,
    };
  }
  return { level: "ok", message: `deploy config OK: ORIGIN_URL ${origin.href}` };
}

/** Takes `--deploy` and `--env <name>` out of argv; the rest goes to `sluice policy check`. */
function ownFlags(argv: readonly string[]) {
  const rest: string[] = [];
  let deploy = false;
  let env: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--deploy") deploy = true;
    else if (a === "--env") env = argv[++i];
    else if (a.startsWith("--env=")) env = a.slice("--env=".length);
    else rest.push(a);
  }
  return { deploy, env, rest, json: rest.includes("--json") };
}

async function run(argv: readonly string[]): Promise<number> {
  const flags = ownFlags(argv);
  const io = {
    out: (t: string) => process.stdout.write(`${t}\n`),
    err: (t: string) => process.stderr.write(`${t}\n`),
    env: process.env,
  };
  const code = await main(["policy", "check", ...flags.rest], io);
  if (code !== 0) return code;
  const config = fileURLToPath(new URL("../wrangler.toml", import.meta.url));
  const finding = await deployFinding(config, flags.env);
  if (finding.level === "ok") {
    if (!flags.json) io.out(finding.message);
    return 0;
  }
  // Until deploy time an unset origin is expected (a fresh clone has none): say so, pass.
  const fatal = finding.level === "error" && flags.deploy;
  io.err(`${fatal ? "" : "warning: "}${finding.message}`);
  if (finding.level === "error" && !flags.deploy) {
    io.err("warning: npm run deploy refuses to deploy until it is set");
  }
  return fatal ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await run(process.argv.slice(2));
}
