/** @module test/workerd/global-setup — real Redis, the Upstash REST endpoint and an origin, on 127.0.0.1. */
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { SCRIPTS } from "../../src/stores/redis/scripts.ts";
import { startEchoOrigin } from "../../tools/echo-origin.ts";
import { startRedis } from "../../tools/redis.ts";
import { startUpstashRest } from "../../tools/upstash-rest.ts";

declare module "vitest" {
  export interface ProvidedContext {
    originUrl: string;
    redisUrl: string;
    faultRedisUrl: string;
    countRedisUrl: string;
    redisToken: string;
    /** Endpoints whose fault never changes, so test files running at once never race on it. */
    garbageRedisUrl: string;
    errorRedisUrl: string;
    slowRedisUrl: string;
    lateRedisUrl: string;
  }
}

/** How long the slow and late endpoints take: past any budget the tests set. */
export const SLOW_STORE_MS = 1000;

export default async function setup(project: TestProject) {
  const token = randomBytes(16).toString("hex");
  const redis = await startRedis();
  // Two endpoints on one Redis: fault tests toggle theirs without touching the other.
  const rest = await startUpstashRest({ redisPort: redis.port, token });
  const faulty = await startUpstashRest({ redisPort: redis.port, token });
  // A third endpoint whose request count only one test reads.
  const counting = await startUpstashRest({ redisPort: redis.port, token });
  const fixed = await Promise.all(
    [
      { mode: "garbage" as const },
      { mode: "error" as const },
      { latencyMs: SLOW_STORE_MS },
      // Directory writes run at once but are answered late; reads are prompt.
      { mode: "late" as const, latencyMs: SLOW_STORE_MS, match: SCRIPTS.write.sha1 },
    ].map(async (faults) => {
      const endpoint = await startUpstashRest({ redisPort: redis.port, token });
      endpoint.setFaults(faults);
      return endpoint;
    }),
  );
  const [garbage, error, slow, late] = fixed as [
    typeof rest,
    typeof rest,
    typeof rest,
    typeof rest,
  ];
  const origin = await startEchoOrigin();
  project.provide("originUrl", origin.url);
  project.provide("redisUrl", rest.url);
  project.provide("faultRedisUrl", faulty.url);
  project.provide("countRedisUrl", counting.url);
  project.provide("redisToken", token);
  project.provide("garbageRedisUrl", garbage.url);
  project.provide("errorRedisUrl", error.url);
  project.provide("slowRedisUrl", slow.url);
  project.provide("lateRedisUrl", late.url);
  return async () => {
    await Promise.all([rest.close(), faulty.close(), counting.close(), origin.close()]);
    await Promise.all(fixed.map((e) => e.close()));
    await redis.stop();
  };
}
