/** @module tools/echo-origin — a loopback origin that describes each request it gets, for tests and local trials. */
import { createHash } from "node:crypto";
import http from "node:http";
import { parseArgs } from "node:util";
import { isMain } from "./main.ts";

export interface EchoOriginHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The JSON body of the default route. */
export interface EchoReply {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Raw search string including the leading "?", or "" (like URL.search). */
  query: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  bodyBytes: number;
  bodySha256: string;
}

const BIG_CHUNK = Buffer.alloc(64 * 1024, "a");

// Sent on every answer so tests can check the gateway keeps origin headers.
const ORIGIN_HEADERS: Record<string, string> = {
  "x-origin": "echo",
  "set-cookie": "a=1",
  "x-origin-custom": "keep",
};

/** What `/__ratelimit` answers with: an origin advertising its own quota (draft -11 syntax). */
export const ORIGIN_RATELIMIT = {
  "ratelimit-policy": '"origin-quota";q=1000;w=3600',
  ratelimit: '"origin-quota";r=999;t=3599',
};

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...ORIGIN_HEADERS,
    ...extra,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** Hashes the body as it streams in, so huge uploads are never held in memory. */
function digestBody(req: http.IncomingMessage): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on("end", () => resolve({ bytes, sha256: hash.digest("hex") }));
    req.on("error", reject);
  });
}

function headerObject(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** Streams `total` bytes of 'a', honouring backpressure. */
function streamBig(res: http.ServerResponse, total: number): void {
  res.writeHead(200, { ...ORIGIN_HEADERS, "content-type": "application/octet-stream" });
  let left = total;
  const pump = () => {
    while (left > 0 && !res.destroyed) {
      const n = Math.min(left, BIG_CHUNK.length);
      left -= n;
      if (!res.write(n === BIG_CHUNK.length ? BIG_CHUNK : BIG_CHUNK.subarray(0, n))) {
        res.once("drain", pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

function intParam(value: string | null, max: number): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n <= max ? n : undefined;
}

/** Starts the echo origin on 127.0.0.1 (a free port unless one is given). */
export async function startEchoOrigin(opts?: { port?: number }): Promise<EchoOriginHandle> {
  const timers = new Set<NodeJS.Timeout>();
  // Requests in flight per `tag` (and the most at once), for concurrency-cap tests.
  const inFlight = new Map<string, { now: number; peak: number }>();
  /** Webhook deliveries by `?tag=`: what a receiver got, to read back with GET. */
  const hooks = new Map<string, { signature: string; body: string }[]>();

  const server = http.createServer((req, res) => {
    const rawUrl = req.url ?? "/";
    const q = rawUrl.indexOf("?");
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = q < 0 ? "" : rawUrl.slice(q);
    const params = new URLSearchParams(query);

    if (path === "/__big") {
      const bytes = intParam(params.get("bytes"), 2 ** 40);
      if (bytes === undefined) return sendJson(res, 400, { error: "bytes=N required" });
      req.resume();
      return streamBig(res, bytes);
    }

    const status = /^\/__status\/(\d{3})$/.exec(path)?.[1];
    if (status !== undefined) {
      const code = Number(status);
      if (code < 200 || code > 599) return sendJson(res, 400, { error: "status must be 200-599" });
      req.resume();
      // `?retry-after=N` sends Retry-After with it (an origin asking for a pause).
      const retryAfter = params.get("retry-after");
      return sendJson(res, code, { status: code }, retryAfter ? { "retry-after": retryAfter } : {});
    }

    if (path === "/__ratelimit") {
      req.resume();
      return sendJson(res, 200, { ratelimit: "origin" }, ORIGIN_RATELIMIT);
    }

    // A webhook receiver: POST records the body and signature, GET lists them.
    if (path === "/__hook") {
      const tag = params.get("tag") ?? "";
      if (req.method === "GET") {
        req.resume();
        return sendJson(res, 200, hooks.get(tag) ?? []);
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const got = hooks.get(tag) ?? [];
        got.push({
          signature: String(req.headers["sluice-signature"] ?? ""),
          body: Buffer.concat(chunks).toString("utf8"),
        });
        hooks.set(tag, got);
        sendJson(res, 200, { received: got.length });
      });
      return;
    }

    if (path === "/__inflight") {
      req.resume();
      return sendJson(res, 200, inFlight.get(params.get("tag") ?? "") ?? { now: 0, peak: 0 });
    }

    // Answers the HTTP server would not send: any status code, written raw.
    const raw = /^\/__raw-status\/(\d{3})$/.exec(path)?.[1];
    if (raw !== undefined) {
      req.resume();
      req.socket.end(`HTTP/1.1 ${raw} Odd\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`);
      return;
    }

    // Headers and half the promised body, then the connection is reset.
    if (path === "/__reset-mid-body") {
      req.resume();
      res.writeHead(200, { ...ORIGIN_HEADERS, "content-length": "1000" });
      res.write("x".repeat(500), () => res.socket?.destroy());
      return;
    }

    let waitMs = 0;
    if (path === "/__slow") {
      const ms = intParam(params.get("ms"), 600_000);
      if (ms === undefined) return sendJson(res, 400, { error: "ms=N required" });
      waitMs = ms;
      const tag = params.get("tag");
      if (tag !== null) {
        const count = inFlight.get(tag) ?? { now: 0, peak: 0 };
        count.now += 1;
        count.peak = Math.max(count.peak, count.now);
        inFlight.set(tag, count);
        res.once("close", () => {
          count.now -= 1;
        });
      }
    }

    digestBody(req).then(
      ({ bytes, sha256 }) => {
        const reply: EchoReply = {
          method: req.method ?? "",
          path,
          query,
          headers: headerObject(req),
          bodyBytes: bytes,
          bodySha256: sha256,
        };
        if (waitMs === 0) return sendJson(res, 200, reply);
        const timer = setTimeout(() => {
          timers.delete(timer);
          sendJson(res, 200, reply);
        }, waitMs);
        timers.add(timer);
        // A client that gives up should not keep the timer alive.
        res.once("close", () => {
          clearTimeout(timer);
          timers.delete(timer);
        });
      },
      () => res.destroy(),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts?.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    },
  };
}

if (isMain(import.meta.filename)) {
  const { values } = parseArgs({ options: { port: { type: "string" } } });
  const origin = await startEchoOrigin(values.port ? { port: Number(values.port) } : undefined);
  console.log(`echo origin listening on ${origin.url}`);
  const shutdown = () => origin.close().then(() => process.exit(0));
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}
