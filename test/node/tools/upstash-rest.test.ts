/** @module test/node/tools/upstash-rest — the REST endpoint against a real redis-server, driven by the real @upstash/redis client. */
import { createHash, randomBytes } from "node:crypto";
import { Redis } from "@upstash/redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RedisHandle, redisCommand, startRedis } from "../../../tools/redis.ts";
import {
  startUpstashRest,
  stripKeyLocking,
  type UpstashRestHandle,
} from "../../../tools/upstash-rest.ts";

let redis: RedisHandle;
let rest: UpstashRestHandle;
/** Default client: auto-pipelining (every call goes to /pipeline) and base64 responses. */
let client: Redis;
/** One HTTP request per command, on `POST /`. */
let single: Redis;
/** Responses without base64 encoding. */
let rawEncoding: Redis;

const sha1 = (s: string) => createHash("sha1").update(s, "utf8").digest("hex");
const key = (name: string) => `t:${randomBytes(4).toString("hex")}:${name}`;

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${rest.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${rest.token}`, ...headers },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  redis = await startRedis();
  rest = await startUpstashRest({ redisPort: redis.port, token: randomBytes(12).toString("hex") });
  const base = { url: rest.url, token: rest.token, retry: false, enableTelemetry: false } as const;
  client = new Redis(base);
  single = new Redis({ ...base, enableAutoPipelining: false });
  rawEncoding = new Redis({ ...base, enableAutoPipelining: false, responseEncoding: false });
});

afterAll(async () => {
  await rest?.close();
  await redis?.stop();
});

afterEach(() => {
  rest.setFaults({ latencyMs: 0, mode: "ok" });
});

describe("commands", () => {
  const tricky = 'héllo wörld ✓ 🚀 "quoted" \\ \u0000\u0001\u007f ÿ 中文';

  it("round-trips non-ASCII and control characters through every client mode", async () => {
    for (const c of [client, single, rawEncoding]) {
      const k = key("tricky");
      expect(await c.set(k, tricky)).toBe("OK");
      expect(await c.get(k)).toBe(tricky);
      // Redis holds exactly the UTF-8 bytes, not an escaped form.
      expect(await redisCommand(redis.port, "STRLEN", k)).toBe(Buffer.byteLength(tricky, "utf8"));
    }
  });

  it("INCR counts", async () => {
    const k = key("n");
    expect(await single.incr(k)).toBe(1);
    expect(await client.incr(k)).toBe(2);
    expect(await client.incrby(k, 5)).toBe(7);
    expect(await redisCommand(redis.port, "GET", k)).toBe("7");
  });

  it("base64-encodes every string except a top-level OK, and leaves integers and nil alone", async () => {
    const k = key("enc");
    const headers = { "upstash-encoding": "base64" };
    expect(await (await post("/", ["SET", k, "é"], headers)).json()).toEqual({ result: "OK" });
    expect(await (await post("/", ["GET", k], headers)).json()).toEqual({
      result: Buffer.from("é").toString("base64"),
    });
    expect(await (await post("/", ["PING"], headers)).json()).toEqual({
      result: Buffer.from("PONG").toString("base64"),
    });
    expect(await (await post("/", ["STRLEN", k], headers)).json()).toEqual({ result: 2 });
    expect(await (await post("/", ["GET", key("none")], headers)).json()).toEqual({
      result: null,
    });
    // A nested status reply "OK" is encoded: the client only spares the top level.
    const nested = await post("/", ["EVAL", "return {redis.status_reply('OK'), 1}", "0"], headers);
    expect(await nested.json()).toEqual({ result: [Buffer.from("OK").toString("base64"), 1] });
    // Without the header strings come back as text.
    expect(await (await post("/", ["GET", k])).json()).toEqual({ result: "é" });
  });

  it("answers a Redis error with HTTP 400 and the error text", async () => {
    const k = key("str");
    await single.set(k, "not a number");
    const res = await post("/", ["INCR", k]);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "ERR value is not an integer or out of range" });
    await expect(single.incr(k)).rejects.toThrow(/not an integer/);
  });

  it("accepts the path form, with query parameters appended", async () => {
    const k = key("path");
    const auth = { authorization: `Bearer ${rest.token}` };
    const set = await fetch(`${rest.url}/set/${encodeURIComponent(k)}/v%201?EX=100`, {
      headers: auth,
    });
    expect(await set.json()).toEqual({ result: "OK" });
    const get = await fetch(`${rest.url}/get/${encodeURIComponent(k)}`, { headers: auth });
    expect(await get.json()).toEqual({ result: "v 1" });
    const ttl = Number(await redisCommand(redis.port, "PTTL", k));
    expect(ttl).toBeGreaterThan(90_000);
    // A POST body is the last argument.
    await fetch(`${rest.url}/set/${encodeURIComponent(k)}`, {
      method: "POST",
      headers: auth,
      body: "from body",
    });
    expect(await redisCommand(redis.port, "GET", k)).toBe("from body");
  });

  it("refuses commands that would change a pooled connection's state", async () => {
    const res = await post("/", ["MULTI"]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/MULTI/);
    // The pool is still healthy afterwards.
    expect(await single.ping()).toBe("PONG");
  });
});

describe("pipelines and transactions", () => {
  it("gives a blocked command's connection back when its client goes away", async () => {
    const blocked = async () => {
      const info = String(await redisCommand(redis.port, "INFO", "clients"));
      return Number(/blocked_clients:(\d+)/.exec(info)?.[1]);
    };
    // More aborted BLPOP 0s than the pool has connections (16).
    const clients = Array.from({ length: 20 }, () => new AbortController());
    const sent = clients.map((gone) =>
      fetch(rest.url, {
        method: "POST",
        headers: { authorization: `Bearer ${rest.token}` },
        body: JSON.stringify(["BLPOP", key("empty"), "0"]),
        signal: gone.signal,
      }).catch(() => undefined),
    );
    await expect.poll(blocked, { timeout: 5000 }).toBe(16);
    for (const gone of clients) gone.abort();
    await Promise.all(sent);
    // The four that never got a connection never reach Redis either.
    await expect.poll(blocked, { timeout: 5000 }).toBe(0);
    expect(await single.ping()).toBe("PONG");
  });

  it("runs a pipeline and returns one result per command", async () => {
    const k = key("p");
    const out = await client.pipeline().set(k, 1).incr(k).get(k).exec();
    expect(out).toEqual(["OK", 2, 2]);
  });

  it("reports per-command errors in a pipeline without failing the others", async () => {
    const k = key("p-err");
    const res = await post("/pipeline", [
      ["SET", k, "x"],
      ["INCR", k],
      ["GET", k],
    ]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { result: "OK" },
      { error: "ERR value is not an integer or out of range" },
      { result: "x" },
    ]);
  });

  it("keeps concurrent pipelines apart", async () => {
    const keys = Array.from({ length: 40 }, (_, i) => key(`c${i}`));
    const results = await Promise.all(
      keys.map((k, i) => single.pipeline().set(k, `v${i}`).get(k).exec()),
    );
    results.forEach((r, i) => {
      expect(r).toEqual(["OK", `v${i}`]);
    });
    const counter = key("many");
    await Promise.all(Array.from({ length: 60 }, () => client.incr(counter)));
    expect(await redisCommand(redis.port, "GET", counter)).toBe("60");
  });

  it("runs a multi-exec transaction", async () => {
    const k = key("m");
    const out = await client.multi().set(k, "a").append(k, "b").get(k).incr(key("m2")).exec();
    expect(out).toEqual(["OK", 2, "ab", 1]);
  });

  it("reports a run-time error inside a transaction per command", async () => {
    const k = key("m-rt");
    const res = await post("/multi-exec", [
      ["SET", k, "x"],
      ["INCR", k],
    ]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { result: "OK" },
      { error: "ERR value is not an integer or out of range" },
    ]);
  });

  it("discards the whole transaction on a queue-time error", async () => {
    const k = key("m-abort");
    const res = await post("/multi-exec", [["SET", k, "x"], ["INCR"]]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string };
    expect(body.error).toMatch(/^EXECABORT/);
    expect(body.error).toMatch(/wrong number of arguments/);
    expect(await redisCommand(redis.port, "EXISTS", k)).toBe(0);
  });
});

describe("scripts", () => {
  const script =
    "#!lua flags=allow-key-locking\nredis.call('SET', KEYS[1], ARGV[1])\nreturn {KEYS[1], ARGV[1], 7}";

  it("strips only allow-key-locking from the shebang", () => {
    expect(stripKeyLocking("#!lua flags=allow-key-locking\nreturn 1")).toBe("\nreturn 1");
    expect(stripKeyLocking("#!lua flags=no-writes,allow-key-locking\nreturn 1")).toBe(
      "#!lua flags=no-writes\nreturn 1",
    );
    expect(stripKeyLocking("#!lua flags=allow-key-locking,no-writes\r\nreturn 1")).toBe(
      "#!lua flags=no-writes\nreturn 1",
    );
    expect(stripKeyLocking("#!lua flags=no-writes\nreturn 1")).toBe(
      "#!lua flags=no-writes\nreturn 1",
    );
    expect(stripKeyLocking("return 1")).toBe("return 1");
  });

  it("EVALs a script carrying Upstash's allow-key-locking flag", async () => {
    const k = key("eval");
    expect(await client.eval(script, [k], ["v"])).toEqual([k, "v", 7]);
    expect(await redisCommand(redis.port, "GET", k)).toBe("v");
  });

  it("SCRIPT LOAD answers sha1 of the original text and EVALSHA runs it", async () => {
    const sha = await client.scriptLoad(script);
    expect(sha).toBe(sha1(script));
    // Redis itself only knows the stripped text.
    expect(
      await redisCommand(redis.port, "SCRIPT", "EXISTS", sha1(stripKeyLocking(script))),
    ).toEqual([1]);
    expect(await redisCommand(redis.port, "SCRIPT", "EXISTS", sha)).toEqual([0]);
    expect(await client.scriptExists(sha)).toEqual([1]);
    const k = key("evalsha");
    expect(await client.evalsha(sha, [k], ["w"])).toEqual([k, "w", 7]);
    expect(await single.evalsha(sha, [k], ["x"])).toEqual([k, "x", 7]);
  });

  it("keeps the other shebang flags in force", async () => {
    const readOnly =
      "#!lua flags=no-writes,allow-key-locking\nreturn redis.call('SET', KEYS[1], 'x')";
    await expect(single.eval(readOnly, [key("ro")], [])).rejects.toThrow(
      /Write commands are not allowed/,
    );
  });

  it("surfaces NOSCRIPT after SCRIPT FLUSH, and createScript falls back to EVAL", async () => {
    const sha = await client.scriptLoad(script);
    await redisCommand(redis.port, "SCRIPT", "FLUSH");
    const k = key("flushed");
    await expect(client.evalsha(sha, [k], ["v"])).rejects.toThrow(/NOSCRIPT/);
    await expect(single.evalsha(sha, [k], ["v"])).rejects.toThrow(/NOSCRIPT/);
    const res = await post("/", ["EVALSHA", sha, "1", k, "v"]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/^NOSCRIPT /);
    expect(await client.createScript(script).exec([k], ["z"])).toEqual([k, "z", 7]);
    expect(await client.evalsha(sha, [k], ["again"])).toEqual([k, "again", 7]);
  });
});

describe("auth", () => {
  it("rejects a wrong token with 401", async () => {
    const bad = new Redis({ url: rest.url, token: "wrong", retry: false, enableTelemetry: false });
    await expect(bad.get("x")).rejects.toThrow(/Unauthorized/);
    const res = await post("/", ["PING"], { authorization: `Bearer ${rest.token}x` });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "Unauthorized" });
  });

  it("rejects a missing token and accepts _token in the query", async () => {
    const none = await fetch(`${rest.url}/ping`);
    expect(none.status).toBe(401);
    const viaQuery = await fetch(`${rest.url}/ping?_token=${rest.token}`);
    expect(await viaQuery.json()).toEqual({ result: "PONG" });
  });
});

describe("fault injection", () => {
  it("adds latency to every data request", async () => {
    const latencyMs = 150;
    const res = await fetch(`${rest.url}/__control/faults`, {
      method: "POST",
      body: JSON.stringify({ latencyMs }),
    });
    expect(await res.json()).toEqual({ latencyMs, mode: "ok" });
    const started = performance.now();
    expect(await single.ping()).toBe("PONG");
    // Node timers have 1 ms granularity; the lower bound is what matters.
    expect(performance.now() - started).toBeGreaterThanOrEqual(latencyMs - 1);
  });

  it("mode error answers 500 and the client rejects", async () => {
    rest.setFaults({ mode: "error" });
    await expect(single.get(key("e"))).rejects.toThrow(/injected fault/);
    const res = await post("/", ["PING"]);
    expect(res.status).toBe(500);
  });

  it("mode hang never answers until the caller aborts", async () => {
    rest.setFaults({ mode: "hang" });
    const started = performance.now();
    await expect(
      fetch(`${rest.url}/ping?_token=${rest.token}`, { signal: AbortSignal.timeout(200) }),
    ).rejects.toThrow(/timeout|aborted/i);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });

  it("releases hung requests when the mode changes back", async () => {
    rest.setFaults({ mode: "hang" });
    let settled = false;
    const pending = single.ping().finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    rest.setFaults({ mode: "ok" });
    expect(await pending).toBe("PONG");
  });

  it("mode garbage answers a well-formed reply of the wrong shape", async () => {
    rest.setFaults({ mode: "garbage" });
    const res = await post("/", ["MGET", key("g")]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: "garbage" });
  });

  it("mode late runs the command at once and answers after latencyMs", async () => {
    rest.setFaults({ mode: "late", latencyMs: 300 });
    const k = key("late");
    const started = performance.now();
    const answer = post("/", ["SET", k, "applied"]);
    await new Promise((r) => setTimeout(r, 150));
    rest.setFaults({ mode: "ok", latencyMs: 0 });
    expect(await single.get(k)).toBe("applied");
    expect((await answer).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(299);
  });

  it("applies faults only to requests whose body matches, when match is set", async () => {
    rest.setFaults({ mode: "error", match: "only-this-key" });
    expect(await single.ping()).toBe("PONG");
    await expect(single.get("only-this-key")).rejects.toThrow(/injected fault/);
    rest.setFaults({ mode: "ok", match: "" });
    expect(rest.faults()).toEqual({ latencyMs: 0, mode: "ok" });
  });

  it("mode reset destroys the connection", async () => {
    await fetch(`${rest.url}/__control/faults`, {
      method: "POST",
      body: JSON.stringify({ mode: "reset" }),
    });
    expect(await (await fetch(`${rest.url}/__control/faults`)).json()).toEqual({
      latencyMs: 0,
      mode: "reset",
    });
    await expect(post("/", ["PING"])).rejects.toThrow(/fetch failed/);
  });

  it("rejects invalid fault settings", async () => {
    const res = await fetch(`${rest.url}/__control/faults`, {
      method: "POST",
      body: JSON.stringify({ mode: "explode" }),
    });
    expect(res.status).toBe(400);
    expect(() => rest.setFaults({ latencyMs: -1 })).toThrow();
    expect(rest.faults()).toEqual({ latencyMs: 0, mode: "ok" });
  });

  it("close() releases hung requests instead of leaking them", async () => {
    const other = await startUpstashRest({ redisPort: redis.port, token: "t" });
    other.setFaults({ mode: "hang" });
    const pending = fetch(`${other.url}/ping?_token=t`).then(
      () => "answered",
      () => "failed",
    );
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await other.close();
    expect(await pending).toBe("failed");
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("stats", () => {
  it("counts data requests and forwarded commands", async () => {
    rest.resetStats();
    expect(rest.stats()).toEqual({ requests: 0, commands: 0 });
    await single.set(key("s"), "1");
    expect(rest.stats()).toEqual({ requests: 1, commands: 1 });
    await single.pipeline().ping().ping().ping().exec();
    expect(rest.stats()).toEqual({ requests: 2, commands: 4 });
    await single.multi().ping().ping().exec();
    expect(rest.stats()).toEqual({ requests: 3, commands: 6 });
    // Control requests are not counted; the HTTP view matches the handle.
    expect(await (await fetch(`${rest.url}/__control/stats`)).json()).toEqual({
      requests: 3,
      commands: 6,
    });
    const reset = await fetch(`${rest.url}/__control/stats/reset`, { method: "POST" });
    expect(await reset.json()).toEqual({ requests: 0, commands: 0 });
    expect(rest.stats()).toEqual({ requests: 0, commands: 0 });
  });

  it("counts a faulted request but no command", async () => {
    rest.resetStats();
    rest.setFaults({ mode: "error" });
    await expect(single.ping()).rejects.toThrow();
    expect(rest.stats()).toEqual({ requests: 1, commands: 0 });
  });
});
