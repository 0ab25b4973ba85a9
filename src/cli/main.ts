/** @module cli/main — `sluice …`: finds the command, parses its options, runs it and turns any failure into an exit code. */
import { type Command, Context, type Io, nameFlags } from "./command.ts";
import { COMMANDS } from "./commands/index.ts";
import { connect } from "./connect.ts";
import { asCliError, EXIT, report, UsageError } from "./errors.ts";
import { commandHelp, groupHelp, overview, synopsis, version } from "./help.ts";
import { GLOBAL_OPTIONS, type OptionSpecs, type Parsed, parseOptions, scan } from "./options.ts";
import { closest } from "./suggest.ts";

export interface MainIo extends Io {
  env: Readonly<Record<string, string | undefined>>;
  now?: () => number;
  fetch?: typeof fetch;
}

/** Every option any command knows, to find the command words before its own options are known. */
const ALL_OPTIONS: OptionSpecs = Object.assign(
  {},
  GLOBAL_OPTIONS,
  ...COMMANDS.map((c) => c.options),
);
const GROUPS = new Set(COMMANDS.filter((c) => c.words.length > 1).map((c) => c.words[0]));

/**
 * Runs one CLI invocation and returns its exit code; all output goes through `io`.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2), { out: console.log, err: console.error, env: process.env });
 */
export async function main(argv: readonly string[], io: MainIo): Promise<number> {
  // Known before parsing, so that even a parse error is reported as JSON.
  const json = argv.includes("--json");
  let command: Command | undefined;
  try {
    const seen = scan(argv, ALL_OPTIONS);
    const words = seen.positionals;
    if (words[0] === "help") return help(words.slice(1), io);
    command = COMMANDS.find((c) => c.words.every((w, i) => words[i] === w));
    if (!command) return withoutCommand(argv, seen, io, json);
    return await run(command, argv, io, json);
  } catch (thrown) {
    const error = command ? nameFlags(asCliError(thrown), command) : asCliError(thrown);
    report(io.err, error, {
      json,
      synopsis: command && synopsis(command),
      hint: command
        ? `run "sluice ${command.words.join(" ")} --help" for its options and examples`
        : `run "sluice help" for the commands`,
    });
    return error.exitCode;
  }
}

async function run(command: Command, argv: readonly string[], io: MainIo, json: boolean) {
  const parsed = parseOptions(argv, { ...GLOBAL_OPTIONS, ...command.options });
  const { values } = parsed;
  if (values.help) return help(command.words, io);
  if (values.version) return printVersion(io, json);
  const str = (name: string) => {
    const v = values[name];
    return typeof v === "string" ? v : undefined;
  };
  const ctx = new Context(
    command,
    { positionals: parsed.positionals.slice(command.words.length), values },
    {
      io,
      json,
      now: (io.now ?? Date.now)(),
      api: () =>
        connect({
          url: str("url"),
          token: str("token"),
          actor: str("actor"),
          insecure: values.insecure === true,
          env: io.env,
          fetch: io.fetch,
        }),
    },
  );
  return await command.run(ctx);
}

/** `sluice`, `sluice --help`, `sluice --version`, `sluice keys`, or a mistyped command. */
function withoutCommand(argv: readonly string[], seen: Parsed, io: MainIo, json: boolean) {
  const words = seen.positionals;
  if (words.length === 0) {
    const { values } = parseOptions(argv, GLOBAL_OPTIONS);
    if (values.version) return printVersion(io, json);
    io.out(overview(COMMANDS));
    return EXIT.ok;
  }
  const group = words[0] ?? "";
  if (GROUPS.has(group) && words.length === 1) {
    if (seen.values.help) {
      io.out(groupHelp(group, COMMANDS));
      return EXIT.ok;
    }
    const subcommands = COMMANDS.filter((c) => c.words[0] === group).map((c) => c.words[1]);
    throw new UsageError(
      `"${group}" needs a command: ${subcommands.join(", ")} (see "sluice ${group} --help")`,
    );
  }
  throw unknownCommand(words);
}

function help(topic: readonly string[], io: Io): number {
  const wanted = topic.join(" ");
  const command = COMMANDS.find((c) => c.words.join(" ") === wanted);
  if (topic.length === 0) io.out(overview(COMMANDS));
  else if (command) io.out(commandHelp(command));
  else if (topic.length === 1 && GROUPS.has(wanted)) io.out(groupHelp(wanted, COMMANDS));
  else throw unknownCommand(topic);
  return EXIT.ok;
}

function unknownCommand(words: readonly string[]): UsageError {
  const typed = words.slice(0, 2).join(" ");
  const names = COMMANDS.map((c) => c.words.join(" "));
  const guess = closest(typed, names) ?? closest(words[0] ?? "", names);
  const fix = guess ? `; did you mean "${guess}"?` : "";
  return new UsageError(`unknown command ${JSON.stringify(typed)}${fix}`, { showUsage: true });
}

function printVersion(io: Io, json: boolean): number {
  io.out(json ? JSON.stringify({ version: version() }) : version());
  return EXIT.ok;
}
