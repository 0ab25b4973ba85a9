/** @module test/node/tools/redis — startRedis owns exactly one process; redisCommand parses RESP. */
import net from "node:net";
import { describe, expect, it } from "vitest";
import { findFreePort, redisCommand, startRedis } from "../../../tools/redis.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("startRedis", () => {
  it("starts a server that answers, and stop() leaves no process", async () => {
    const redis = await startRedis();
    expect(alive(redis.pid)).toBe(true);
    expect(await redisCommand(redis.port, "PING")).toBe("PONG");
    // Persistence is off.
    expect(await redisCommand(redis.port, "CONFIG", "GET", "appendonly")).toEqual([
      "appendonly",
      "no",
    ]);
    expect(await redisCommand(redis.port, "CONFIG", "GET", "save")).toEqual(["save", ""]);
    await redis.stop();
    expect(() => process.kill(redis.pid, 0)).toThrow();
    await expect(redisCommand(redis.port, "PING")).rejects.toThrow();
    await redis.stop(); // idempotent
  });

  it("fails clearly when the port is taken", async () => {
    const port = await findFreePort();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", r));
    try {
      await expect(startRedis({ port })).rejects.toThrow(/could not bind/);
    } finally {
      blocker.close();
    }
  });

  it("tells the user how to install redis-server when it is missing", async () => {
    const saved = process.env.REDIS_SERVER_BIN;
    process.env.REDIS_SERVER_BIN = "/nonexistent/redis-server";
    try {
      await expect(startRedis()).rejects.toThrow(/apt-get install -y redis-server/);
    } finally {
      if (saved === undefined) delete process.env.REDIS_SERVER_BIN;
      else process.env.REDIS_SERVER_BIN = saved;
    }
  });
});

describe("redisCommand", () => {
  it("parses every RESP2 reply type and rejects error replies", async () => {
    const redis = await startRedis();
    try {
      const { port } = redis;
      expect(await redisCommand(port, "SET", "k", "ü")).toBe("OK");
      expect(await redisCommand(port, "GET", "k")).toBe("ü");
      expect(await redisCommand(port, "GET", "missing")).toBeNull();
      expect(await redisCommand(port, "INCRBY", "n", "-5")).toBe(-5);
      expect(await redisCommand(port, "EVAL", "return {1, 'two', {3, false}, {}}", "0")).toEqual([
        1,
        "two",
        [3, null],
        [],
      ]);
      expect(await redisCommand(port, "SET", "big", "x".repeat(200_000))).toBe("OK");
      expect(await redisCommand(port, "STRLEN", "big")).toBe(200_000);
      expect(((await redisCommand(port, "GET", "big")) as string).length).toBe(200_000);
      await expect(redisCommand(port, "NOPE")).rejects.toThrow(/^ERR unknown command/);
      await expect(redisCommand(port, "EVALSHA", "0".repeat(40), "0")).rejects.toThrow(/^NOSCRIPT/);
    } finally {
      await redis.stop();
    }
  });
});
