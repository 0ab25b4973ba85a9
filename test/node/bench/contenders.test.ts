/** @module test/node/bench/contenders — how each contender is set up: the rate limiting binding's limits, which bundle and store each runs on, where each is measured. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { RATE_LIMIT_BINDINGS } from "../../../bench/contenders/shared.ts";
import {
  BENCH_RULES,
  bindingPeriodSec,
  rateLimitBindings,
  rateLimitToml,
} from "../../../bench/limits.ts";
import {
  bundledAs,
  CONTENDERS,
  contenderBindings,
  DO_SHARDS,
  LIMITERS,
  runsAtLatency,
  STORE_OF,
} from "../../../bench/workers.ts";

describe("the rate limiting binding's limits", () => {
  it("takes 10 s for periods up to 10 s and 60 s, its longest, for anything longer", () => {
    expect(bindingPeriodSec(1_000)).toBe(10);
    expect(bindingPeriodSec(10_000)).toBe(10);
    expect(bindingPeriodSec(10_001)).toBe(60);
    expect(bindingPeriodSec(60_000)).toBe(60);
    expect(bindingPeriodSec(3_600_000)).toBe(60);
  });

  it("is one binding per rule and limit, key then address, each in its own namespace, counts kept", () => {
    const bindings = rateLimitBindings(BENCH_RULES);
    expect(bindings.map((b) => [b.name, b.simple.limit, b.simple.period])).toEqual([
      [RATE_LIMIT_BINDINGS.load.key, BENCH_RULES.load.key.count, 60],
      [RATE_LIMIT_BINDINGS.load.ip, BENCH_RULES.load.ip.count, 60],
      [RATE_LIMIT_BINDINGS.tight.key, 50, 60],
      [RATE_LIMIT_BINDINGS.tight.ip, 80, 60],
    ]);
    expect(new Set(bindings.map((b) => b.namespace_id)).size).toBe(4);
  });

  describe("as wrangler reads the generated config", () => {
    let dir = "";
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it("becomes the Miniflare ratelimits the contender is given", async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "bench-ratelimit-"));
      const config = path.join(dir, "wrangler.toml");
      await writeFile(
        config,
        [
          'name = "bench-cf-ratelimit"',
          'main = "index.js"',
          'compatibility_date = "2026-10-01"',
          "",
          rateLimitToml(rateLimitBindings(BENCH_RULES)),
          "",
        ].join("\n"),
      );
      await writeFile(path.join(dir, "index.js"), "export default {};\n");
      const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
      const ratelimits = (workerOptions as { ratelimits?: Record<string, unknown> }).ratelimits;
      expect(ratelimits?.[RATE_LIMIT_BINDINGS.tight.ip]).toMatchObject({
        namespace_id: "1004",
        simple: { limit: 80, period: 60 },
      });
      expect(Object.keys(ratelimits ?? {}).sort()).toEqual(
        rateLimitBindings(BENCH_RULES)
          .map((b) => b.name)
          .sort(),
      );
    });
  });
});

describe("the contenders", () => {
  const at = { originUrl: "http://origin", restUrl: "http://rest", restToken: "t" };

  it("run Sluice's two stores from one bundle, sluice-do without Upstash variables", () => {
    expect(bundledAs("sluice-do")).toBe("sluice");
    expect(bundledAs("sluice-quiet")).toBe("sluice");
    expect(bundledAs("cf-ratelimit")).toBe("cf-ratelimit");
    const redis = contenderBindings("sluice", at);
    const durable = contenderBindings("sluice-do", at);
    expect(redis).toHaveProperty("UPSTASH_REDIS_REST_URL", "http://rest");
    expect(durable).not.toHaveProperty("UPSTASH_REDIS_REST_URL");
    expect(durable).not.toHaveProperty("UPSTASH_REDIS_REST_TOKEN");
    expect(durable.SLUICE_POLICY).toBe(redis.SLUICE_POLICY);
    expect(STORE_OF.sluice).toBe("redis");
    expect(STORE_OF["sluice-do"]).toBe("durable-object");
  });

  it("run sluice-do-sharded as sluice-do with its rules spread over DO_SHARDS objects", () => {
    expect(bundledAs("sluice-do-sharded")).toBe("sluice");
    expect(STORE_OF["sluice-do-sharded"]).toBe("durable-object");
    const sharded = contenderBindings("sluice-do-sharded", at);
    const plain = contenderBindings("sluice-do", at);
    expect(sharded).not.toHaveProperty("UPSTASH_REDIS_REST_URL");
    const policy = JSON.parse(String(sharded.SLUICE_POLICY));
    expect(policy.store).toEqual({ shards: DO_SHARDS });
    expect({ ...policy, store: undefined }).toEqual({
      ...JSON.parse(String(plain.SLUICE_POLICY)),
      store: undefined,
    });
  });

  it("give the binding contender the origin only: its limits live in its config", () => {
    expect(contenderBindings("cf-ratelimit", at)).toEqual({ ORIGIN_URL: "http://origin" });
    expect(LIMITERS).toContain("cf-ratelimit");
  });

  it("run at an injected store latency only if they ask the store it delays, bare everywhere", () => {
    const at5 = CONTENDERS.filter((c) => runsAtLatency(c, 5));
    expect(at5).toEqual([
      "bare",
      "bare-1rt",
      "sluice",
      "sluice-quiet",
      "sluice-delay",
      "sluice-concurrency",
      "sluice-adaptive",
      "sluice-dark",
      "sluice-observed",
      "upstash-ratelimit",
      "hono-rate-limiter",
    ]);
    expect(CONTENDERS.filter((c) => runsAtLatency(c, 0))).toEqual([...CONTENDERS]);
  });
});
