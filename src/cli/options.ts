/** @module cli/options — argv → positionals and option values with `node:util` parseArgs; every mistake is a UsageError saying what was expected. */
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { UsageError } from "./errors.ts";
import { closest } from "./suggest.ts";

/** One `--name`: its type, and what help shows for it. */
export interface OptionSpec {
  type: "string" | "boolean";
  /** Placeholder for the value in help, like `<id>`. */
  value?: string;
  help: string;
  /** Checked before the command runs; shown without brackets in the usage line. */
  required?: boolean;
  short?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** Parsed option values; each option at most once. */
export type Values = Readonly<Record<string, string | boolean | undefined>>;

export interface Parsed {
  positionals: string[];
  values: Values;
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS = {
  url: {
    type: "string",
    value: "<url>",
    help: "the gateway (default http://127.0.0.1:8787); a path in it is kept as a prefix",
  },
  token: {
    type: "string",
    value: "<token>",
    help: "the admin token; SLUICE_ADMIN_TOKEN is better: it stays out of shell history",
  },
  actor: { type: "string", value: "<name>", help: "your name in the audit trail (default $USER)" },
  insecure: {
    type: "boolean",
    help: "allow sending the token over plain http:// to another host (or SLUICE_INSECURE=1)",
  },
  json: { type: "boolean", help: 'print JSON; errors go to stderr as {"error": {…}}' },
  yes: {
    type: "boolean",
    short: "y",
    help: "do not ask before revoking or resetting (asked only at a terminal)",
  },
  help: { type: "boolean", short: "h", help: "show help" },
  version: { type: "boolean", short: "v", help: "print the version" },
} as const satisfies OptionSpecs;

/**
 * Parses `argv` strictly against `specs`: unknown options, missing values,
 * values on flags and options given twice are refused with a UsageError.
 *
 * @example
 * parseOptions(["acme", "--plan", "pro"], { plan: { type: "string", help: "" } });
 * // → { positionals: ["acme"], values: { plan: "pro" } }
 */
export function parseOptions(argv: readonly string[], specs: OptionSpecs): Parsed {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: config(specs),
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw translate(err, specs);
  }
  const values: Record<string, string | boolean> = {};
  for (const [name, given] of Object.entries(parsed.values)) {
    // Every option is `multiple`, so a repeat is seen rather than silently replacing the first.
    const list = Array.isArray(given) ? given : [given];
    if (list.length > 1)
      throw new UsageError(`--${name} given twice`, { flag: `--${name}`, showUsage: true });
    const value = list[0];
    if (value === "")
      throw new UsageError(`--${name} needs a value`, { flag: `--${name}`, showUsage: true });
    if (value !== undefined) values[name] = value;
  }
  return { positionals: parsed.positionals, values };
}

/**
 * `argv` read leniently (unknown options are skipped, repeats allowed), to find
 * the command before its own options are known.
 *
 * @example
 * scan(["--json", "keys", "list"], GLOBAL_OPTIONS); // → { positionals: ["keys", "list"], values: { json: true } }
 */
export function scan(argv: readonly string[], specs: OptionSpecs): Parsed {
  const parsed = parseArgs({
    args: [...argv],
    options: config(specs),
    strict: false,
    allowPositionals: true,
  });
  const values: Record<string, string | boolean> = {};
  for (const [name, given] of Object.entries(parsed.values)) {
    const first = Array.isArray(given) ? given[0] : given;
    if (first !== undefined) values[name] = first;
  }
  return { positionals: parsed.positionals, values };
}

function config(specs: OptionSpecs): ParseArgsOptionsConfig {
  const out: ParseArgsOptionsConfig = {};
  for (const [name, spec] of Object.entries(specs)) {
    out[name] = { type: spec.type, multiple: true, ...(spec.short ? { short: spec.short } : {}) };
  }
  return out;
}

// parseArgs quotes the option in its messages: "Unknown option '--plan'", "Option '--tenant <value>' …".
const QUOTED_OPTION = /'(-{1,2}[^'\s=]+)/;

function translate(err: unknown, specs: OptionSpecs): unknown {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : "";
  const option = QUOTED_OPTION.exec(message)?.[1] ?? "option";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const known = Object.keys(specs).map((k) => `--${k}`);
    const guess = closest(option, known);
    const fix = guess ? `did you mean ${guess}?` : `expected one of ${known.join(", ")}`;
    return new UsageError(`unknown option ${option}; ${fix}`, { flag: option, showUsage: true });
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const noValue = message.includes("does not take an argument");
    return new UsageError(`${option} ${noValue ? "takes no value" : "needs a value"}`, {
      flag: option,
      showUsage: true,
    });
  }
  return err;
}
