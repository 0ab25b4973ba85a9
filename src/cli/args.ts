/** @module cli/args — argv → command words and options; every mistake is a UsageError saying what was expected. */

/** A mistake in how the CLI was called (exit code 2). */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Option name → does it take a value? */
export type OptionSpec = Record<string, "value" | "flag">;

export interface Parsed {
  words: string[];
  options: Record<string, string | true>;
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: OptionSpec = {
  url: "value",
  token: "value",
  actor: "value",
  json: "flag",
  help: "flag",
};

/**
 * Splits argv into positional words and `--name value` / `--name=value` /
 * `--flag` options, checked against `spec`. `-h` is `--help`.
 *
 * @example
 * parseArgs(["keys", "create", "--tenant", "acme"], { tenant: "value" });
 * // → { words: ["keys", "create"], options: { tenant: "acme" } }
 */
export function parseArgs(argv: readonly string[], spec: OptionSpec): Parsed {
  const words: string[] = [];
  const options: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-h") {
      options.help = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      if (arg.startsWith("-") && arg.length > 1) throw new UsageError(`unknown option ${arg}`);
      words.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const kind = spec[name];
    if (kind === undefined) {
      const known = Object.keys(spec).map((k) => `--${k}`);
      throw new UsageError(`unknown option --${name}; expected one of ${known.join(", ")}`);
    }
    if (name in options) throw new UsageError(`--${name} given twice`);
    if (kind === "flag") {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === "" || (eq === -1 && value.startsWith("--"))) {
      throw new UsageError(`--${name} needs a value`);
    }
    options[name] = value;
  }
  return { words, options };
}

/**
 * An expiry as an ISO time: either ISO 8601 itself or a duration from now
 * (`30d`, `12h`, `90m`).
 *
 * @example
 * expiryFrom("30d", Date.parse("2026-11-22T00:00:00Z")); // → "2026-12-22T00:00:00.000Z"
 */
export function expiryFrom(text: string, nowMs: number): string {
  const duration = /^(\d+)(m|h|d)$/.exec(text);
  if (duration) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as "m" | "h" | "d"];
    return new Date(nowMs + Number(duration[1]) * unit).toISOString();
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new UsageError(
      `expected an expiry like 2026-12-31T00:00:00Z or a duration like 30d, 12h, 90m; got ${JSON.stringify(text)}`,
    );
  }
  return new Date(ms).toISOString();
}
