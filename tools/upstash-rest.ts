/** @module tools/upstash-rest — an Upstash-Redis-REST-compatible HTTP endpoint in front of a local redis-server, with fault injection. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { parseArgs } from "node:util";
import { isMain } from "./main.ts";
import { RespConnection, RespError, type RespValue, startRedis } from "./redis.ts";

export type FaultMode = "ok" | "error" | "hang" | "reset" | "garbage" | "late";

export interface Faults {
  /** Added before every data request is answered (in mode late: after it ran). */
  latencyMs: number;
  /**
   * ok: normal; error: HTTP 500; hang: never answer; reset: destroy the
   * socket; garbage: a well-formed reply of the wrong shape
   * (`{"result":"garbage"}`); late: run the command, answer after latencyMs.
   */
  mode: FaultMode;
  /** When set, only requests whose body contains this text get the faults (e.g. a script's SHA-1). */
  match?: string;
}

export interface UpstashRestStats {
  /** Data-plane HTTP requests received (control requests excluded, faulted ones included). */
  requests: number;
  /** Redis commands forwarded (MULTI/EXEC wrappers excluded). */
  commands: number;
}

export interface UpstashRestOptions {
  redisPort: number;
  token: string;
  port?: number;
  /** Loopback only (127.0.0.1 by default). */
  host?: string;
  /** Max persistent connections to redis (default 16). */
  poolSize?: number;
}

export interface UpstashRestHandle {
  url: string;
  token: string;
  port: number;
  /** Merges the given fields into the current fault settings. */
  setFaults(f: Partial<Faults>): void;
  faults(): Faults;
  stats(): UpstashRestStats;
  resetStats(): void;
  close(): Promise<void>;
}

type Arg = string | Buffer;

const FAULT_MODES: readonly FaultMode[] = ["ok", "error", "hang", "reset", "garbage", "late"];
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const KEY_LOCKING_FLAG = "allow-key-locking";

// Commands that would change the state of a pooled connection for the next request.
const CONNECTION_STATE_COMMANDS = new Set([
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "UNWATCH",
  "SELECT",
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
  "MONITOR",
  "QUIT",
  "RESET",
  "HELLO",
  "SYNC",
  "PSYNC",
]);

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const sha1 = (text: string) => createHash("sha1").update(text, "utf8").digest("hex");
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

/**
 * Removes Upstash's `allow-key-locking` flag, which Redis 7.0 rejects. When no
 * flags or other parameters remain, the shebang text goes but its newline stays,
 * so Lua line numbers in error messages match the original script.
 */
export function stripKeyLocking(script: string): string {
  if (!script.startsWith("#!")) return script;
  const nl = script.indexOf("\n");
  const first = nl < 0 ? script : script.slice(0, nl);
  const rest = nl < 0 ? "" : script.slice(nl);
  const [engine = "lua", ...params] = first.slice(2).trim().split(/\s+/);
  let changed = false;
  const kept: string[] = [];
  for (const param of params) {
    if (!param.startsWith("flags=")) {
      kept.push(param);
      continue;
    }
    const flags = param.slice(6).split(",");
    const remaining = flags.filter((f) => f !== KEY_LOCKING_FLAG && f !== "");
    if (remaining.length !== flags.filter((f) => f !== "").length) changed = true;
    if (remaining.length > 0) kept.push(`flags=${remaining.join(",")}`);
  }
  if (!changed) return script;
  return kept.length === 0 ? rest : `#!${engine} ${kept.join(" ")}${rest}`;
}

/** A small pool of persistent connections; each HTTP request holds one exclusively. */
class Pool {
  readonly #port: number;
  readonly #max: number;
  #idle: RespConnection[] = [];
  #open = 0;
  #waiters: (() => void)[] = [];
  #shut = false;

  constructor(port: number, max: number) {
    this.#port = port;
    this.#max = max;
  }

  async acquire(): Promise<RespConnection> {
    for (;;) {
      if (this.#shut) throw new Error("endpoint is closing");
      const idle = this.#idle.pop();
      if (idle) {
        if (!idle.closed) return idle;
        this.#open--;
        continue;
      }
      if (this.#open < this.#max) {
        this.#open++;
        try {
          return await RespConnection.connect(this.#port);
        } catch (err) {
          this.#open--;
          this.#waiters.shift()?.();
          throw err;
        }
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  release(conn: RespConnection): void {
    if (conn.closed || this.#shut) {
      conn.close();
      this.#open--;
    } else {
      this.#idle.push(conn);
    }
    this.#waiters.shift()?.();
  }

  close(): void {
    this.#shut = true;
    for (const c of this.#idle) c.close();
    this.#idle = [];
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

/** Reply → JSON value in Upstash's shape. Only a top-level simple "OK" escapes base64, as the client expects. */
function toJson(v: RespValue, base64: boolean, top: boolean): unknown {
  if (v === null || typeof v === "number") return v;
  if (Buffer.isBuffer(v)) return base64 ? v.toString("base64") : v.toString("utf8");
  if (typeof v === "string") {
    if (!base64 || (top && v === "OK")) return v;
    return Buffer.from(v, "utf8").toString("base64");
  }
  if (v instanceof RespError) {
    // Errors nested inside arrays (rare: Lua tables) travel as their message.
    return base64 ? Buffer.from(v.message, "utf8").toString("base64") : v.message;
  }
  return v.map((item) => toJson(item, base64, false));
}

function resultItem(v: RespValue, base64: boolean): { result: unknown } | { error: string } {
  return v instanceof RespError ? { error: v.message } : { result: toJson(v, base64, true) };
}

function argText(a: Arg | undefined): string {
  if (a === undefined) return "";
  return typeof a === "string" ? a : a.toString("utf8");
}

function normalizeCommand(raw: unknown): Arg[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new HttpError(400, "ERR command must be a non-empty JSON array");
  }
  return raw.map((a, i) => {
    if (typeof a === "string") return a;
    if (typeof a === "number" || typeof a === "boolean") return String(a);
    throw new HttpError(400, `ERR invalid argument at index ${i}: ${JSON.stringify(a)}`);
  });
}

function normalizeBatch(raw: unknown): Arg[][] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new HttpError(400, "ERR body must be a non-empty JSON array of commands");
  }
  return raw.map(normalizeCommand);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "ERR failed to parse command: body is not valid JSON");
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, "ERR request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
    req.on("close", () => {
      if (!req.complete) reject(new Error("client went away"));
    });
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Starts the endpoint on 127.0.0.1 (a free port unless one is given). */
export async function startUpstashRest(opts: UpstashRestOptions): Promise<UpstashRestHandle> {
  const host = opts.host ?? "127.0.0.1";
  if (!isLoopback(host)) throw new Error(`upstash-rest binds loopback only, not ${host}`);
  const tokenDigest = sha256(opts.token);
  const pool = new Pool(opts.redisPort, opts.poolSize ?? 16);
  // sha1(script as the caller sent it) → sha1(script as redis stored it)
  const shaMap = new Map<string, string>();
  let faults: Faults = { latencyMs: 0, mode: "ok" };
  const stats: UpstashRestStats = { requests: 0, commands: 0 };
  let closed = false;
  const hung = new Set<() => void>();
  const delays = new Set<{ timer: NodeJS.Timeout; done: () => void }>();

  const releaseHung = () => {
    for (const wake of [...hung]) wake();
  };

  const setFaults = (patch: unknown): void => {
    if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
      throw new HttpError(400, "faults must be an object");
    }
    const p = patch as Record<string, unknown>;
    const next: Faults = { ...faults };
    if (p.latencyMs !== undefined) {
      if (typeof p.latencyMs !== "number" || !Number.isFinite(p.latencyMs) || p.latencyMs < 0) {
        throw new HttpError(400, "latencyMs must be a non-negative number");
      }
      next.latencyMs = p.latencyMs;
    }
    if (p.match !== undefined) {
      if (typeof p.match !== "string") throw new HttpError(400, "match must be a string");
      if (p.match === "") delete next.match;
      else next.match = p.match;
    }
    if (p.mode !== undefined) {
      if (!FAULT_MODES.includes(p.mode as FaultMode)) {
        throw new HttpError(400, `mode must be one of ${FAULT_MODES.join(", ")}`);
      }
      next.mode = p.mode as FaultMode;
    }
    faults = next;
    if (faults.mode !== "hang") releaseHung();
  };

  const delay = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => entry.done(), ms),
        done: () => {
          clearTimeout(entry.timer);
          delays.delete(entry);
          resolve();
        },
      };
      delays.add(entry);
    });

  /** Applies latency and fault mode; true when the request may go on to redis. */
  const gate = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
  ): Promise<boolean> => {
    if (faults.match !== undefined && !body.toString("latin1").includes(faults.match)) return true;
    if (faults.latencyMs > 0 && faults.mode !== "late") await delay(faults.latencyMs);
    for (;;) {
      if (closed || res.destroyed) return false;
      switch (faults.mode) {
        case "ok":
          return true;
        case "garbage":
          sendJson(res, 200, { result: "garbage" });
          return false;
        case "late": {
          // The command runs now; only its answer is held back.
          const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
          const wait = faults.latencyMs;
          res.end = ((...args: unknown[]) => {
            void delay(wait).then(() => end(...args));
            return res;
          }) as typeof res.end;
          return true;
        }
        case "error":
          sendJson(res, 500, { error: "ERR injected fault (upstash-rest test endpoint)" });
          return false;
        case "reset":
          req.socket.destroy();
          return false;
        case "hang":
          // Parked until the mode changes, the endpoint closes or the client goes away.
          await new Promise<void>((resolve) => {
            const wake = () => {
              hung.delete(wake);
              res.off("close", wake);
              resolve();
            };
            hung.add(wake);
            res.on("close", wake);
          });
      }
    }
  };

  const authorized = (req: http.IncomingMessage, url: URL): boolean => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
    const presented = match?.[1] ?? url.searchParams.get("_token");
    if (presented == null) return false;
    // Hashing gives equal-length buffers, so timingSafeEqual never leaks the token length.
    return timingSafeEqual(sha256(presented), tokenDigest);
  };

  /** Rewrites script commands for Redis 7.0; returns a fixer for the reply where needed. */
  const prepare = (args: Arg[]): ((v: RespValue) => RespValue) | undefined => {
    const name = argText(args[0]).toUpperCase();
    if (CONNECTION_STATE_COMMANDS.has(name)) {
      throw new HttpError(400, `ERR ${name} is not supported over REST; use /multi-exec`);
    }
    if (name === "EVAL" || name === "EVAL_RO") {
      const script = argText(args[1]);
      const stripped = stripKeyLocking(script);
      if (stripped !== script) {
        shaMap.set(sha1(script), sha1(stripped));
        args[1] = stripped;
      }
    } else if (name === "EVALSHA" || name === "EVALSHA_RO") {
      const mapped = shaMap.get(argText(args[1]).toLowerCase());
      if (mapped) args[1] = mapped;
    } else if (name === "SCRIPT") {
      const sub = argText(args[1]).toUpperCase();
      if (sub === "LOAD") {
        const script = argText(args[2]);
        const stripped = stripKeyLocking(script);
        if (stripped !== script) {
          const original = sha1(script);
          shaMap.set(original, sha1(stripped));
          args[2] = stripped;
          // Upstash answers with the sha of what the caller sent.
          return (v) => (v instanceof RespError ? v : Buffer.from(original));
        }
      } else if (sub === "EXISTS") {
        for (let i = 2; i < args.length; i++) {
          const mapped = shaMap.get(argText(args[i]).toLowerCase());
          if (mapped) args[i] = mapped;
        }
      }
    }
    return undefined;
  };

  const runBatch = async (
    commands: Arg[][],
    transaction: boolean,
    res: http.ServerResponse,
  ): Promise<{ replies: RespValue[]; exec?: RespValue }> => {
    const fixers = commands.map(prepare);
    const wire = transaction ? [["MULTI"], ...commands, ["EXEC"]] : commands;
    stats.commands += commands.length;
    const conn = await pool.acquire();
    // A client gone mid-command (an aborted BLPOP 0) takes its connection
    // with it: Redis drops the blocked command, and the pool is not wedged.
    const gone = () => {
      if (!res.writableFinished) conn.close();
    };
    // Gone while it waited for a connection: nothing is sent.
    if (res.closed || res.destroyed) {
      pool.release(conn);
      // 499: nginx's "client closed request"; nobody reads it.
      throw new HttpError(499, "client went away");
    }
    res.once("close", gone);
    let replies: RespValue[];
    try {
      replies = await conn.sendMany(wire);
    } finally {
      res.off("close", gone);
      pool.release(conn);
    }
    if (!transaction) {
      return { replies: replies.map((r, i) => fixers[i]?.(r) ?? r) };
    }
    const exec = replies[replies.length - 1] ?? null;
    const queued = replies.slice(1, -1);
    if (Array.isArray(exec)) {
      return { replies: exec.map((r, i) => fixers[i]?.(r) ?? r), exec };
    }
    return { replies: queued, exec };
  };

  const handleData = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
  ): Promise<void> => {
    stats.requests++;
    const body = await readBody(req);
    if (!(await gate(req, res, body))) return;
    if (!authorized(req, url)) {
      sendJson(res, 401, { error: "Unauthorized" });
      return;
    }
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const path = url.pathname.replace(/\/+$/, "");

    if (path === "/pipeline" || path === "/multi-exec") {
      if (req.method !== "POST") throw new HttpError(405, "ERR use POST");
      const commands = normalizeBatch(parseJson(body));
      const transaction = path === "/multi-exec";
      const { replies, exec } = await runBatch(commands, transaction, res);
      if (transaction && !Array.isArray(exec)) {
        // Queue-time failure (EXECABORT): nothing ran; report it like a failed command.
        const cause = replies.find((r): r is RespError => r instanceof RespError);
        const message =
          exec instanceof RespError ? exec.message : "EXECABORT Transaction was aborted";
        sendJson(res, 400, { error: cause ? `${message} Cause: ${cause.message}` : message });
        return;
      }
      sendJson(
        res,
        200,
        replies.map((r) => resultItem(r, base64)),
      );
      return;
    }

    let command: Arg[];
    if (path === "") {
      if (req.method !== "POST") throw new HttpError(405, "ERR use POST with a JSON array body");
      command = normalizeCommand(parseJson(body));
    } else {
      // Path form: /set/key/value[?EX=100], a POST body becomes the last value.
      if (req.method !== "GET" && req.method !== "POST")
        throw new HttpError(405, "ERR use GET or POST");
      command = path.slice(1).split("/").map(decodeURIComponent);
      if (req.method === "POST" && body.length > 0) command.push(body);
      for (const [k, v] of url.searchParams) {
        if (k === "_token") continue;
        command.push(k);
        if (v !== "") command.push(v);
      }
    }
    const { replies } = await runBatch([command], false, res);
    const reply = replies[0] ?? null;
    if (reply instanceof RespError) {
      sendJson(res, 400, { error: reply.message });
      return;
    }
    sendJson(res, 200, { result: toJson(reply, base64, true) });
  };

  const handleControl = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
  ): Promise<void> => {
    const body = await readBody(req);
    if (path === "/__control/faults" && req.method === "GET") {
      sendJson(res, 200, faults);
    } else if (path === "/__control/faults" && req.method === "POST") {
      setFaults(parseJson(body.length > 0 ? body : Buffer.from("{}")));
      sendJson(res, 200, faults);
    } else if (path === "/__control/stats" && req.method === "GET") {
      sendJson(res, 200, stats);
    } else if (path === "/__control/stats/reset" && req.method === "POST") {
      stats.requests = 0;
      stats.commands = 0;
      sendJson(res, 200, stats);
    } else {
      sendJson(res, 404, { error: "unknown control route" });
    }
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const work = url.pathname.startsWith("/__control/")
      ? handleControl(req, res, url.pathname.replace(/\/+$/, ""))
      : handleData(req, res, url);
    work.catch((err: unknown) => {
      if (err instanceof HttpError) {
        sendJson(res, err.status, { error: err.message });
      } else if (!res.headersSent) {
        // Redis unreachable or the connection broke mid-request.
        sendJson(res, 500, { error: `ERR ${(err as Error).message}` });
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    token: opts.token,
    port,
    setFaults: (f) => setFaults(f),
    faults: () => ({ ...faults }),
    stats: () => ({ ...stats }),
    resetStats: () => {
      stats.requests = 0;
      stats.commands = 0;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      releaseHung();
      for (const d of [...delays]) d.done();
      pool.close();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "redis-port": { type: "string" },
      token: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
    },
  });
  // Without --redis-port, bring up a private redis-server and own its lifetime.
  const redis = values["redis-port"] ? undefined : await startRedis();
  const redisPort = redis?.port ?? Number(values["redis-port"]);
  const token = values.token ?? randomBytes(18).toString("base64url");
  const opts: UpstashRestOptions = { redisPort, token };
  if (values.port) opts.port = Number(values.port);
  if (values.host) opts.host = values.host;
  const rest = await startUpstashRest(opts);
  console.log(
    `upstash-rest listening, redis on 127.0.0.1:${redisPort}${redis ? ` (pid ${redis.pid})` : ""}`,
  );
  console.log(`UPSTASH_REDIS_REST_URL=${rest.url}`);
  console.log(`UPSTASH_REDIS_REST_TOKEN=${token}`);
  console.log(`faults: curl -X POST ${rest.url}/__control/faults -d '{"mode":"hang"}'`);
  const shutdown = async () => {
    await rest.close();
    await redis?.stop();
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

if (isMain(import.meta.filename)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
