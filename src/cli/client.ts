/** @module cli/client — one admin API call over HTTP, and each way it can fail as a CliError of the right kind. */
import { CliError, type Problem } from "./errors.ts";

export interface ClientOptions {
  /** Where the admin API lives, path prefix included: `https://host/prefix/__sluice/admin/`. */
  base: URL;
  token: string;
  actor: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The admin API's path under the gateway (and under any prefix given in `--url`). */
export const ADMIN_PATH = "__sluice/admin/";

/**
 * Calls the admin API with the bearer token and returns the JSON answer.
 *
 * @example
 * const client = new AdminClient({ base: new URL("http://127.0.0.1:8787/__sluice/admin/"), token, actor: "ops" });
 * const { tenants } = await client.call<{ tenants: Tenant[] }>("GET", "tenants", undefined, "tenants");
 */
export class AdminClient {
  readonly #options: ClientOptions;

  constructor(options: ClientOptions) {
    this.#options = options;
  }

  /**
   * `path` is relative to the admin base (no leading slash), so a prefix in
   * `--url` is kept. `expect` is a member every good answer has: an answer
   * without it is not from a Sluice admin API this CLI knows.
   */
  async call<T extends object>(
    method: string,
    path: string,
    body: unknown,
    expect: keyof T & string,
  ): Promise<T> {
    const url = new URL(path, this.#options.base);
    const res = await this.#send(method, url, body);
    const text = await res.text();
    const json = parseObject(text);
    if (res.ok && json && expect in json) return json as T;
    const problem = json ? asProblem(res, json) : undefined;
    throw failure(res, url, this.#options.base, problem);
  }

  async #send(method: string, url: URL, body: unknown): Promise<Response> {
    const doFetch = this.#options.fetch ?? fetch;
    try {
      return await doFetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#options.token}`,
          "sluice-actor": this.#options.actor,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
        // Never replay the bearer token to wherever a redirect points.
        redirect: "manual",
      });
    } catch (err) {
      throw new CliError("unreachable", `cannot reach ${url.origin}: ${reason(err)}`);
    }
  }
}

function failure(res: Response, url: URL, base: URL, problem: Problem | undefined): CliError {
  const { status } = res;
  const gateway = base.href.slice(0, -ADMIN_PATH.length);
  const details = { status, problem };
  if (status === 401 || status === 403) {
    const message = problem
      ? "the admin token was rejected (check SLUICE_ADMIN_TOKEN)"
      : `${url.origin} answered ${status} without a problem body; is this a Sluice gateway?`;
    return new CliError("auth", message, details);
  }
  // Only a wrong token gets an address locked out, so this is an authentication failure too.
  if (status === 429 && problem?.type.endsWith("/too-many-key-attempts")) {
    return new CliError(
      "auth",
      `${problem.detail ?? problem.title} (check SLUICE_ADMIN_TOKEN)`,
      details,
    );
  }
  // Admin resources answer 404 with their own problem type; a gateway without
  // the admin API answers every /__sluice/admin path with a plain one.
  if (status === 404 && problem?.type === "about:blank") {
    return new CliError(
      "api",
      `the admin API is not enabled at ${gateway} (set SLUICE_ADMIN_TOKEN on the gateway)`,
      details,
    );
  }
  if (problem) {
    // A 400 means the request was malformed: the same mistake as a bad flag caught locally.
    const kind = status === 400 ? "usage" : "api";
    return new CliError(kind, problem.detail ?? problem.title, details);
  }
  const location = res.headers.get("location");
  const redirect = location ? ` (redirect to ${location}, not followed)` : "";
  return new CliError(
    "internal",
    `unexpected ${status} answer from ${url.origin}${url.pathname}${redirect}; is this a Sluice gateway?`,
    { status },
  );
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = text ? JSON.parse(text) : {};
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function asProblem(res: Response, json: Record<string, unknown>): Problem | undefined {
  const { type, title, detail, field } = json;
  const problemJson = res.headers.get("content-type")?.includes("application/problem+json");
  if (!problemJson || typeof type !== "string" || typeof title !== "string") return undefined;
  return {
    type,
    title,
    status: res.status,
    ...(typeof detail === "string" ? { detail } : {}),
    ...(typeof field === "string" ? { field } : {}),
  };
}

function reason(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === "TimeoutError") return "no answer within the timeout";
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code === "ECONNREFUSED") return "connection refused";
    if (cause?.code === "ENOTFOUND") return "host not found";
    return cause?.message ?? err.message;
  }
  return String(err);
}
