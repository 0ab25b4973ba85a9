/** @module test/workerd/global-setup — real Redis, the Upstash REST endpoint and an origin, on 127.0.0.1. */
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
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
  }
}

export default async function setup(project: TestProject) {
  const token = randomBytes(16).toString("hex");
  const redis = await startRedis();
  // Two endpoints on one Redis: fault tests toggle theirs without touching the other.
  const rest = await startUpstashRest({ redisPort: redis.port, token });
  const faulty = await startUpstashRest({ redisPort: redis.port, token });
  // A third endpoint whose request count only one test reads.
  const counting = await startUpstashRest({ redisPort: redis.port, token });
  const origin = await startEchoOrigin();
  project.provide("originUrl", origin.url);
  project.provide("redisUrl", rest.url);
  project.provide("faultRedisUrl", faulty.url);
  project.provide("countRedisUrl", counting.url);
  project.provide("redisToken", token);
  return async () => {
    await Promise.all([rest.close(), faulty.close(), counting.close(), origin.close()]);
    await redis.stop();
  };
}
