/** @module test/node/cli/helpers — a fake admin API on loopback and a way to run the CLI in-process against it. */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { main } from "../../../src/cli/main.ts";

export interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** What the fake answers: a JSON body, or a problem (RFC 9457) when `problem` is set. */
export interface Answer {
  status?: number;
  json?: unknown;
  problem?: { type: string; title: string; detail?: string; field?: string };
  headers?: Record<string, string>;
}

export interface FakeAdmin {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

const BASE = "https://sluice.dev/problems/";

/** Problems as the admin API words them. */
export const problems = {
  badRequest: (field: string, message: string): Answer => ({
    status: 400,
    problem: {
      type: `${BASE}admin-bad-request`,
      title: "Bad Request",
      detail: `${field}: ${message}`,
      field,
    },
  }),
  notFound: (what: string): Answer => ({
    status: 404,
    problem: {
      type: `${BASE}admin-not-found`,
      title: "Not Found",
      detail: `${what} does not exist.`,
    },
  }),
  conflict: (detail: string): Answer => ({
    status: 409,
    problem: { type: `${BASE}admin-conflict`, title: "Conflict", detail },
  }),
  unauthorized: (): Answer => ({
    status: 401,
    problem: {
      type: `${BASE}unauthorized`,
      title: "Unauthorized",
      detail: "A valid admin token is required.",
    },
    headers: { "www-authenticate": 'Bearer realm="sluice-admin"' },
  }),
};

/**
 * An HTTP server on 127.0.0.1 that records each request and answers with
 * `answer(method, path)`; unknown routes get the plain 404 of a gateway without the admin API.
 */
export async function fakeAdmin(
  answer: (method: string, path: string) => Answer | undefined,
): Promise<FakeAdmin> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const path = req.url ?? "";
      seen.push({
        method: req.method ?? "",
        path,
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      });
      const a = answer(req.method ?? "", path) ?? {
        status: 404,
        problem: { type: "about:blank", title: "Not Found" },
      };
      const status = a.status ?? 200;
      const body = a.problem ? { ...a.problem, status } : a.json;
      res.writeHead(status, {
        "content-type": a.problem ? "application/problem+json" : "application/json",
        ...a.headers,
      });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `sluice argv` in-process with only `env` as its environment. */
export async function sluice(
  argv: string[],
  env: Record<string, string> = {},
  extra: {
    fetch?: typeof fetch;
    now?: () => number;
    confirm?: (question: string) => Promise<boolean>;
  } = {},
): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env,
    ...extra,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}
