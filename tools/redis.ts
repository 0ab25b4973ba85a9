/** @module tools/redis — start a throwaway redis-server and talk RESP2 to it over node:net. */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import os from "node:os";

export interface RedisHandle {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** An error reply from Redis; kept as a value so callers can tell it apart from I/O failures. */
export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RespError";
  }
}

/**
 * A decoded RESP2 reply. Simple strings are `string`, bulk strings are `Buffer`
 * (the REST endpoint needs the raw bytes and the simple/bulk distinction).
 */
export type RespValue = string | number | Buffer | null | RespError | RespValue[];

const CRLF = Buffer.from("\r\n");

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

type Parsed = { value: RespValue; end: number } | undefined;

function readLine(buf: Buffer, pos: number): { line: string; end: number } | undefined {
  const nl = buf.indexOf(CRLF, pos);
  if (nl < 0) return undefined;
  return { line: buf.toString("utf8", pos, nl), end: nl + 2 };
}

/** Parses one complete reply at `pos`, or returns undefined when more bytes are needed. */
export function parseReply(buf: Buffer, pos: number): Parsed {
  if (pos >= buf.length) return undefined;
  const type = buf[pos];
  const header = readLine(buf, pos + 1);
  if (!header) return undefined;
  const { line, end } = header;
  switch (type) {
    case 0x2b: // '+'
      return { value: line, end };
    case 0x2d: // '-'
      return { value: new RespError(line), end };
    case 0x3a: // ':'
      return { value: Number(line), end };
    case 0x24: {
      // '$'
      const len = Number(line);
      if (len < 0) return { value: null, end };
      if (buf.length < end + len + 2) return undefined;
      return { value: buf.subarray(end, end + len), end: end + len + 2 };
    }
    case 0x2a: {
      // '*'
      const count = Number(line);
      if (count < 0) return { value: null, end };
      const items: RespValue[] = [];
      let at = end;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type byte 0x${(type ?? 0).toString(16)}`);
  }
}

interface Pending {
  resolve(v: RespValue): void;
  reject(e: Error): void;
}

/**
 * One persistent RESP connection. Commands may be pipelined: replies arrive in
 * order, so a FIFO of waiters is enough. Error replies resolve as RespError values.
 */
export class RespConnection {
  readonly socket: net.Socket;
  #pending: Pending[] = [];
  #buf: Buffer = Buffer.alloc(0);
  #closed = false;
  #closeReason: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => this.#fail(err));
    socket.on("close", () => this.#fail(new Error("redis connection closed")));
  }

  static connect(port: number, host = "127.0.0.1"): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const onError = (err: Error) => reject(err);
      socket.once("error", onError);
      socket.once("connect", () => {
        socket.off("error", onError);
        resolve(new RespConnection(socket));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes all commands in one go and resolves with their replies in order. */
  sendMany(commands: readonly (readonly (string | Buffer)[])[]): Promise<RespValue[]> {
    if (this.#closed) {
      return Promise.reject(this.#closeReason ?? new Error("redis connection closed"));
    }
    const replies = commands.map(
      () =>
        new Promise<RespValue>((resolve, reject) => {
          this.#pending.push({ resolve, reject });
        }),
    );
    this.socket.write(Buffer.concat(commands.map((c) => encodeCommand(c))));
    return Promise.all(replies);
  }

  async send(...args: (string | Buffer)[]): Promise<RespValue> {
    const [reply] = await this.sendMany([args]);
    return reply ?? null;
  }

  close(): void {
    this.#fail(new Error("redis connection closed by client"));
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let pos = 0;
    for (;;) {
      let parsed: Parsed;
      try {
        parsed = parseReply(this.#buf, pos);
      } catch (err) {
        this.#fail(err as Error);
        this.socket.destroy();
        return;
      }
      if (!parsed) break;
      pos = parsed.end;
      this.#pending.shift()?.resolve(parsed.value);
    }
    // Copy the remainder so finished replies' bytes can be collected.
    this.#buf = pos === 0 ? this.#buf : Buffer.from(this.#buf.subarray(pos));
  }

  #fail(err: Error): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#closeReason = err;
    }
    const waiting = this.#pending;
    this.#pending = [];
    for (const p of waiting) p.reject(err);
  }
}

/** Converts a reply to plain JS for tests: bulk strings become UTF-8 strings. */
function toPlain(v: RespValue): unknown {
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  if (Array.isArray(v)) return v.map(toPlain);
  return v;
}

/**
 * Runs one command on a fresh connection (test helper: KEYS, PTTL, INFO, SCRIPT FLUSH…).
 * Error replies reject with an Error carrying Redis's message.
 */
export async function redisCommand(port: number, ...args: string[]): Promise<unknown> {
  const conn = await RespConnection.connect(port);
  try {
    const reply = await conn.send(...args);
    if (reply instanceof RespError) throw new Error(reply.message);
    return toPlain(reply);
  } finally {
    conn.close();
  }
}

/** Finds a free loopback port by letting the OS pick one, then releasing it. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

// Children still alive when this process exits get SIGKILLed, so a crashed test run leaks nothing.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once("exit", onExit);
  });
}

class BindRace extends Error {}

/** True when something on `port` answers PING with PONG within `ms`. */
function ping(port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    let reply = "";
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), ms);
    socket.once("error", () => finish(false));
    socket.once("connect", () => socket.write(encodeCommand(["PING"])));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
  });
}

async function launch(port: number, bin: string): Promise<RedisHandle> {
  const child = spawn(
    bin,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      // No stray dump.rdb in the repo if something triggers a save anyway.
      "--dir",
      os.tmpdir(),
      "--loglevel",
      "warning",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  const collect = (b: Buffer) => {
    log = (log + b.toString("utf8")).slice(-4000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once("spawn", () => resolve(undefined));
    child.once("error", (err) => resolve(err));
  });
  if (spawned) {
    if ((spawned as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(
        `redis-server not found (${bin}). Install it with: apt-get install -y redis-server`,
      );
    }
    throw spawned;
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error("redis-server started without a pid");
  trackChild(child);

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    if (await waitExit(child, 2000)) return;
    child.kill("SIGKILL");
    await waitExit(child, 5000);
  };

  const exited = new Promise<"exited">((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve("exited");
    else child.once("exit", () => resolve("exited"));
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    // Race the probe with exit: whatever holds the port might accept and never answer.
    const ready = await Promise.race([ping(port, 500), exited]);
    if (ready === true) break;
    if (ready === "exited") {
      if (/address already in use/i.test(log)) throw new BindRace(log);
      throw new Error(`redis-server exited before it was ready:\n${log}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer PING on port ${port}:\n${log}`);
    }
    await sleep(20);
  }
  return { port, pid, stop };
}

/** Starts `redis-server` on 127.0.0.1 with persistence off; resolves once it answers PING. */
export async function startRedis(opts?: { port?: number }): Promise<RedisHandle> {
  const bin = process.env.REDIS_SERVER_BIN ?? "redis-server";
  for (let attempt = 0; ; attempt++) {
    const port = opts?.port ?? (await findFreePort());
    try {
      return await launch(port, bin);
    } catch (err) {
      // Someone grabbed the port between our probe and redis's bind: pick another.
      if (err instanceof BindRace && opts?.port === undefined && attempt < 5) continue;
      throw err instanceof BindRace
        ? new Error(`redis-server could not bind:\n${err.message}`)
        : err;
    }
  }
}
