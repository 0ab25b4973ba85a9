/** @module cli/help — `sluice help`, `sluice <command> --help`, usage lines and `--version`, all from the command table. */
import { readFileSync } from "node:fs";
import type { Command } from "./command.ts";
import { GLOBAL_OPTIONS, type OptionSpecs } from "./options.ts";

const EXIT_CODES: ReadonlyArray<readonly [string, string]> = [
  ["0", "done"],
  ["1", "refused or failed: the gateway said no (unknown tenant, conflict, store down),"],
  ["", "could not be reached, or the policy is invalid"],
  ["2", "usage error: unknown command or option, missing or malformed value,"],
  ["", "whether the CLI or the gateway notices"],
  ["4", "authentication: no admin token, or the gateway rejected it"],
];

/**
 * The command's one-line usage: required options bare, optional ones in brackets.
 *
 * @example
 * synopsis(keysRevoke); // → "usage: sluice keys revoke <key-id>"
 */
export function synopsis(command: Command): string {
  const options = Object.entries(command.options).map(([name, spec]) => {
    const text = spec.value ? `--${name} ${spec.value}` : `--${name}`;
    return spec.required ? text : `[${text}]`;
  });
  const parts = ["sluice", ...command.words, ...command.params.map((p) => p.name), ...options];
  return `usage: ${parts.join(" ")}`;
}

/**
 * Help for one command: usage, what it does, its arguments and options, examples.
 *
 * @example
 * commandHelp(keysCreate).split("\n")[0]; // → "usage: sluice keys create --tenant <id> [--plan <plan>] …"
 */
export function commandHelp(command: Command): string {
  const params = command.params.map((p): [string, string] => [p.name, p.help]);
  const globals = Object.keys(GLOBAL_OPTIONS).map((name) => `--${name}`);
  return [
    synopsis(command),
    "",
    `${command.summary[0]?.toUpperCase()}${command.summary.slice(1)}.`,
    ...section("arguments", params),
    ...section("options", optionRows(command.options)),
    "",
    `global options: ${globals.join(", ")} (see "sluice help")`,
    ...section(
      "examples",
      command.examples.map((e): [string, string] => [e, ""]),
    ),
  ].join("\n");
}

/**
 * The overview: every command, the global options, the environment and the exit codes.
 *
 * @example
 * overview(COMMANDS).startsWith("sluice — "); // → true
 */
export function overview(commands: readonly Command[]): string {
  const rows = commands.map((c): [string, string] => [
    [...c.words, ...c.params.map((p) => p.name)].join(" "),
    c.summary,
  ]);
  return [
    "sluice — manage a Sluice gateway's tenants, API keys, limits, lists and bans through its admin API",
    "",
    "usage: sluice <command> [arguments] [options]",
    ...section("commands", [...rows, ["help [command]", "show help for a command"]]),
    ...section("global options", optionRows(GLOBAL_OPTIONS)),
    ...section("environment", [
      ["SLUICE_URL", "the gateway, as --url"],
      ["SLUICE_ADMIN_TOKEN", "the admin token, as --token"],
      ["SLUICE_INSECURE=1", "as --insecure"],
    ]),
    ...section("exit codes", EXIT_CODES),
    "",
    `run "sluice <command> --help" for a command's options and examples`,
  ].join("\n");
}

/**
 * The commands under a group word, for `sluice keys --help`.
 *
 * @example
 * groupHelp("keys", COMMANDS); // "usage: sluice keys <create|list|revoke> …"
 */
export function groupHelp(group: string, commands: readonly Command[]): string {
  const members = commands.filter((c) => c.words[0] === group);
  const names = members.map((c) => c.words[1] ?? "").join("|");
  return [
    `usage: sluice ${group} <${names}> [arguments] [options]`,
    ...section(
      "commands",
      members.map((c): [string, string] => [c.words.join(" "), c.summary]),
    ),
    "",
    `run "sluice ${group} <command> --help" for its options and examples`,
  ].join("\n");
}

/**
 * The version in package.json.
 *
 * @example
 * version(); // → "0.1.0"
 */
export function version(): string {
  const pkg: unknown = JSON.parse(
    readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
  );
  const v = (pkg as { version?: unknown }).version;
  return typeof v === "string" ? v : "unknown";
}

function optionRows(specs: OptionSpecs): Array<[string, string]> {
  return Object.entries(specs).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : "";
    const flag = `${short}--${name}${spec.value ? ` ${spec.value}` : ""}`;
    return [flag, `${spec.help}${spec.required ? " (required)" : ""}`];
  });
}

/** A titled block of two aligned columns, or nothing when there are no rows. */
function section(title: string, rows: ReadonlyArray<readonly [string, string]>): string[] {
  if (rows.length === 0) return [];
  const width = Math.max(...rows.map(([left]) => left.length));
  return ["", `${title}:`, ...rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`.trimEnd())];
}
