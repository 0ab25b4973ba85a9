/** @module cli/errors — every failure as one kind with one exit code (gh's scheme), and how it is reported. */

/**
 * Exit codes. The code depends on what went wrong, not on who noticed: a
 * malformed `--expires` exits 2 whether the CLI or the gateway rejects it.
 */
export const EXIT = {
  ok: 0,
  /** The gateway said no, could not be reached, or the policy is invalid. */
  failed: 1,
  /** The command line is wrong: unknown command or option, missing or malformed value. */
  usage: 2,
  /** No admin token, or the gateway rejected it (gh uses 4 the same way). */
  auth: 4,
} as const;

/**
 * - `usage`: the command line is wrong (exit 2);
 * - `auth`: no token, or the gateway rejected it (exit 4);
 * - `api`: the gateway answered no: unknown tenant, conflict, store down (exit 1);
 * - `unreachable`: no answer from the gateway (exit 1);
 * - `internal`: an answer the CLI does not understand (exit 1).
 */
export type ErrorKind = "usage" | "auth" | "api" | "unreachable" | "internal";

const EXIT_OF: Record<ErrorKind, number> = {
  usage: EXIT.usage,
  auth: EXIT.auth,
  api: EXIT.failed,
  unreachable: EXIT.failed,
  internal: EXIT.failed,
};

/** An RFC 9457 problem as the admin API sends it; `field` names the offending input on a 400. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  field?: string;
}

export interface ErrorDetails {
  /** The HTTP status, when the gateway answered. */
  status?: number | undefined;
  problem?: Problem | undefined;
  /** The flag or argument at fault, as typed on the command line (`--expires`, `<id>`). */
  flag?: string | undefined;
  /** The command line's shape is wrong (unknown option, missing argument): its usage line helps. */
  showUsage?: boolean | undefined;
}

/**
 * A failure the CLI reports in one line (or one JSON object) and turns into its exit code.
 *
 * @example
 * throw new CliError("api", 'Tenant "acme" does not exist.', { status: 404 });
 */
export class CliError extends Error {
  override readonly name: string = "CliError";
  readonly kind: ErrorKind;
  readonly details: ErrorDetails;
  constructor(kind: ErrorKind, message: string, details: ErrorDetails = {}) {
    super(message);
    this.kind = kind;
    this.details = details;
  }
  get exitCode(): number {
    return EXIT_OF[this.kind];
  }
}

/**
 * A mistake in how the CLI was called (exit 2).
 *
 * @example
 * throw new UsageError("--tenant is required");
 */
export class UsageError extends CliError {
  override readonly name = "UsageError";
  constructor(message: string, details: ErrorDetails = {}) {
    super("usage", message, details);
  }
}

/** How to report, and what surrounds a usage error in text mode. */
export interface ReportOptions {
  json: boolean;
  /** The command's usage line, shown first (as argparse and yargs do). */
  synopsis?: string | undefined;
  /** Where to read more, shown last. */
  hint?: string | undefined;
}

/**
 * Writes `err` to stderr: `sluice: <message>` for people, or
 * `{"error": {"kind", "message", "status"?, "flag"?}}` with `--json`.
 *
 * @example
 * report(io.err, new UsageError("--tenant is required"), { json: true });
 * // stderr: {"error":{"kind":"usage","message":"--tenant is required"}}
 */
export function report(err: (text: string) => void, error: CliError, options: ReportOptions): void {
  const { status, flag } = error.details;
  if (options.json) {
    const body = { kind: error.kind, message: error.message, ...(status ? { status } : {}) };
    err(JSON.stringify({ error: { ...body, ...(flag ? { flag } : {}) } }));
    return;
  }
  // A wrong value needs only its one line; a wrong shape is easier to fix beside the usage.
  const shape = error.kind === "usage" && error.details.showUsage === true;
  if (shape && options.synopsis) err(options.synopsis);
  err(`sluice: ${error.message}`);
  if (shape && options.hint) err(options.hint);
}

/**
 * Any thrown value as a CliError; anything unexpected is `internal`, in one line, not a stack.
 *
 * @example
 * asCliError(new TypeError("x.map is not a function")).kind; // → "internal"
 */
export function asCliError(thrown: unknown): CliError {
  if (thrown instanceof CliError) return thrown;
  return new CliError("internal", thrown instanceof Error ? thrown.message : String(thrown));
}
