/** @module cli/main — `sluice …`: the admin API from a terminal. Exit codes: 0 ok, 1 failed, 2 bad usage. */
import { isMain } from "../../tools/main.ts";
import { GLOBAL_OPTIONS, parseArgs, UsageError } from "./args.ts";
import { AdminClient, ApiError } from "./client.ts";
import { COMMANDS, type Command, type Io } from "./commands.ts";

export interface MainIo extends Io {
  env: Record<string, string | undefined>;
  now?: () => number;
  fetch?: typeof fetch;
}

const DEFAULT_URL = "http://127.0.0.1:8787";

/**
 * Runs one CLI invocation and returns its exit code; all output goes through `io`.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2), { out: console.log, err: console.error, env: process.env });
 */
export async function main(argv: readonly string[], io: MainIo): Promise<number> {
  const json = argv.includes("--json");
  try {
    const command = findCommand(argv);
    if (!command) {
      const help = argv.length === 0 || argv.includes("--help") || argv.includes("-h");
      if (help) {
        io.out(usage());
        return 0;
      }
      const words = argv
        .filter((a) => !a.startsWith("-"))
        .slice(0, 2)
        .join(" ");
      throw new UsageError(`unknown command ${JSON.stringify(words)}`);
    }
    const parsed = parseArgs(argv.slice(command.words.length), {
      ...GLOBAL_OPTIONS,
      ...command.options,
    });
    if (parsed.options.help) {
      io.out(commandUsage(command));
      return 0;
    }
    const get = (name: string) => {
      const v = parsed.options[name];
      return typeof v === "string" ? v : undefined;
    };
    return await command.run({
      args: parsed.words,
      options: parsed.options,
      json,
      io,
      now: (io.now ?? Date.now)(),
      api: () => client(get("url"), get("token"), get("actor"), io),
    });
  } catch (err) {
    if (err instanceof UsageError) {
      report(io, json, "usage", err.message);
      if (!json) io.err(`run "sluice --help" for the commands`);
      return 2;
    }
    if (err instanceof ApiError) {
      report(io, json, "api", err.message, err.status);
      return 1;
    }
    // An answer of an unexpected shape, say from an older gateway: one line, not a stack.
    report(io, json, "internal", err instanceof Error ? err.message : String(err));
    return 1;
  }
}

function client(
  url: string | undefined,
  token: string | undefined,
  actor: string | undefined,
  io: MainIo,
): AdminClient {
  const base = url ?? io.env.SLUICE_URL ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(base)} is not a URL like ${DEFAULT_URL}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UsageError(`--url must be http or https, got ${parsed.protocol}`);
  }
  const secret = token ?? io.env.SLUICE_ADMIN_TOKEN;
  if (!secret) throw new UsageError("no admin token: set SLUICE_ADMIN_TOKEN (or pass --token)");
  return new AdminClient({
    url: parsed.href,
    token: secret,
    actor: actor ?? io.env.USER ?? "cli",
    ...(io.fetch ? { fetch: io.fetch } : {}),
  });
}

function findCommand(argv: readonly string[]): Command | undefined {
  return COMMANDS.find((c) => c.words.every((w, i) => argv[i] === w));
}

function report(io: Io, json: boolean, kind: string, message: string, status?: number): void {
  if (json) {
    io.err(JSON.stringify({ error: { kind, message, ...(status ? { status } : {}) } }));
  } else {
    io.err(`sluice: ${message}`);
  }
}

function commandUsage(c: Command): string {
  const opts = Object.entries(c.options).map(([k, v]) =>
    v === "flag" ? `[--${k}]` : `[--${k} …]`,
  );
  return [
    `usage: sluice ${[...c.words, c.params, ...opts].filter(Boolean).join(" ")}`,
    "",
    c.summary,
  ].join("\n");
}

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => [...c.words, c.params].join(" ").length));
  return [
    "usage: sluice <command> [options]",
    "",
    ...COMMANDS.map(
      (c) => `  ${[...c.words, c.params].join(" ").trim().padEnd(width)}  ${c.summary}`,
    ),
    "",
    "options: --url (or SLUICE_URL, default http://127.0.0.1:8787), --token (or SLUICE_ADMIN_TOKEN;",
    "the variable keeps it out of shell history), --actor (audit name, default $USER), --json",
    "exit codes: 0 ok, 1 the gateway refused or could not be reached, 2 bad usage",
  ].join("\n");
}

if (isMain(import.meta.filename)) {
  process.exitCode = await main(process.argv.slice(2), {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    env: process.env,
  });
}
