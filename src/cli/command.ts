/** @module cli/command — what a command declares (words, arguments, options, examples) and what it gets to run. */
import type { AdminApi } from "./api.ts";
import { CliError, UsageError } from "./errors.ts";
import type { OptionSpecs, Values } from "./options.ts";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /**
   * Asks a yes/no question at a terminal; absent when stdin or stdout is not
   * one (scripts, pipes, CI), where nothing is ever asked.
   */
  confirm?(question: string): Promise<boolean>;
}

/** A positional argument: `<id>` is required, `[file]` optional. */
export interface Param {
  name: string;
  help: string;
}

export interface Command {
  words: readonly string[];
  params: readonly Param[];
  summary: string;
  options: OptionSpecs;
  /** Whole command lines, shown under "examples" in the command's help. */
  examples: readonly string[];
  /**
   * Admin API body fields → the flag or argument that supplies them, so a 400
   * names what the user typed. Fields not listed are named `--<field>`.
   */
  fields?: Readonly<Record<string, string>>;
  /** Needs no gateway (no URL, no token). */
  offline?: boolean;
  /** Returns the exit code. */
  run(ctx: Context): Promise<number>;
}

/**
 * A command's parsed arguments, checked against its declaration before `run`.
 *
 * @example
 * const ctx = new Context(command, parsed, { io, json: false, now: Date.now(), api });
 * const tenant = ctx.required("tenant");
 */
export class Context {
  readonly args: readonly string[];
  readonly json: boolean;
  readonly io: Io;
  /** The clock, read once per invocation, for expiries like `30d`. */
  readonly now: number;
  readonly #values: Values;
  readonly #api: () => AdminApi;

  constructor(
    command: Command,
    parsed: { positionals: readonly string[]; values: Values },
    env: { io: Io; json: boolean; now: number; api: () => AdminApi },
  ) {
    checkArity(command, parsed.positionals);
    for (const [name, spec] of Object.entries(command.options)) {
      if (spec.required && parsed.values[name] === undefined) {
        throw new UsageError(`--${name} is required`, { flag: `--${name}`, showUsage: true });
      }
    }
    this.args = parsed.positionals;
    this.#values = parsed.values;
    this.json = env.json;
    this.io = env.io;
    this.now = env.now;
    this.#api = env.api;
  }

  /** The `i`th positional argument; arity is checked before `run`, so a required one is there. */
  arg(i: number): string {
    const v = this.args[i];
    if (v === undefined) throw new UsageError(`missing argument ${i + 1}`, { showUsage: true });
    return v;
  }

  /** A string option's value, if given. */
  string(name: string): string | undefined {
    const v = this.#values[name];
    return typeof v === "string" ? v : undefined;
  }

  /** A string option that this use of the command needs. */
  required(name: string, why = ""): string {
    const v = this.string(name);
    if (v === undefined)
      throw new UsageError(`--${name} is required${why}`, { flag: `--${name}`, showUsage: true });
    return v;
  }

  flag(name: string): boolean {
    return this.#values[name] === true;
  }

  /** The admin API; only commands that talk to a gateway call it, so others need no token. */
  api(): AdminApi {
    return this.#api();
  }

  /**
   * Before an action that cannot be undone: at a terminal, asks first (as gh
   * does) unless `--yes` was given; in a script, goes ahead.
   *
   * @throws {CliError} when the answer is no (exit 1, nothing sent).
   */
  async confirm(question: string): Promise<void> {
    if (this.flag("yes") || this.json || !this.io.confirm) return;
    if (!(await this.io.confirm(question))) {
      throw new CliError("api", "cancelled: nothing was changed");
    }
  }

  /** Prints `value` as JSON with `--json`, else the text; returns exit code 0. */
  print(value: unknown, text: () => string): number {
    this.io.out(this.json ? JSON.stringify(value, null, 2) : text());
    return 0;
  }
}

function checkArity(command: Command, given: readonly string[]): void {
  const missing = command.params.slice(given.length).find((p) => p.name.startsWith("<"));
  if (missing) {
    throw new UsageError(`missing ${missing.name}: ${missing.help}`, {
      flag: missing.name,
      showUsage: true,
    });
  }
  const extra = given[command.params.length];
  if (extra !== undefined)
    throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`, { showUsage: true });
}

/**
 * Renames the API field a 400 names (`expiresAt: must be in the future`) to
 * the flag or argument the user typed (`--expires: must be in the future`).
 *
 * @example
 * nameFlags(new CliError("usage", "expiresAt: must be in the future", { status: 400, problem }), keysCreate).message;
 * // → "--expires: must be in the future"
 */
export function nameFlags(error: CliError, command: Command): CliError {
  const field = error.details.problem?.field;
  if (error.details.status !== 400 || !field) return error;
  const flag =
    command.fields?.[field] ?? (Object.hasOwn(command.options, field) ? `--${field}` : undefined);
  if (!flag) return error;
  const own = `${field}: `;
  const detail = error.message.startsWith(own) ? error.message.slice(own.length) : error.message;
  return new CliError(error.kind, `${flag}: ${detail}`, { ...error.details, flag });
}
