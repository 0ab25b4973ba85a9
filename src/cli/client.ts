/** @module cli/client — the admin API over HTTP, with errors a person can act on. */

/** A JSON answer of the admin API; shapes are documented in the README's "Admin API". */
// biome-ignore lint/suspicious/noExplicitAny: the CLI reads documented fields of untyped JSON.
export type ApiBody = Record<string, any>;

/** A failure talking to the gateway (exit code 1). */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly status: number | undefined;
  readonly problem: Record<string, unknown> | undefined;
  constructor(message: string, status?: number, problem?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

export interface ClientOptions {
  url: string;
  token: string;
  actor: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const ADMIN = "/__sluice/admin";

/**
 * Calls `/__sluice/admin/*` with the bearer token.
 *
 * @example
 * const api = new AdminClient({ url: "http://127.0.0.1:8787", token, actor: "ops" });
 * const { tenants } = await api.call("GET", "/tenants");
 */
export class AdminClient {
  readonly #base: URL;
  readonly #options: ClientOptions;

  constructor(options: ClientOptions) {
    this.#base = new URL(options.url);
    this.#options = options;
  }

  async call(method: string, path: string, body?: unknown): Promise<ApiBody> {
    const url = new URL(ADMIN + path, this.#base);
    const doFetch = this.#options.fetch ?? fetch;
    let res: Response;
    try {
      res = await doFetch(url, {
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
      throw new ApiError(`cannot reach ${this.#base.origin}: ${reason(err)}`);
    }
    const text = await res.text();
    let json: ApiBody | undefined;
    try {
      json = text ? (JSON.parse(text) as ApiBody) : {};
    } catch {
      json = undefined;
    }
    const isProblem = res.headers.get("content-type")?.includes("application/problem+json");
    if (res.ok && json && typeof json === "object" && !Array.isArray(json)) return json;
    if (res.status === 401 && isProblem) {
      throw new ApiError("the admin token was rejected (check SLUICE_ADMIN_TOKEN)", 401, json);
    }
    // Admin resources answer 404 with their own problem type; a gateway without
    // the admin API answers every /__sluice/admin path with a plain one.
    if (res.status === 404 && isProblem && json?.type === "about:blank") {
      throw new ApiError(
        `the admin API is not enabled at ${this.#base.origin} (set SLUICE_ADMIN_TOKEN on the gateway)`,
        404,
      );
    }
    if (isProblem && json) {
      throw new ApiError(String(json.detail ?? json.title ?? res.statusText), res.status, json);
    }
    const location = res.headers.get("location");
    throw new ApiError(
      `unexpected ${res.status} answer from ${url.origin}${url.pathname}${location ? ` (redirect to ${location}, not followed)` : ""}; is this a Sluice gateway?`,
      res.status,
    );
  }
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
