/** @module vitest.config — three projects: `node` and `workerd`, named for where they run, then `e2e`, which drives `wrangler dev` under load with the machine to itself. */
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          exclude: ["test/node/e2e/**"],
          environment: "node",
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        // Hundreds of requests through wrangler dev measure the gateway, not
        // the other test files: this group starts when the others are done.
        test: {
          name: "e2e",
          include: ["test/node/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 90_000,
          sequence: { groupOrder: 1 },
          // One file at a time: a browser test beside a 500-request burst
          // would measure the machine, not the gateway.
          fileParallelism: false,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            // The pool runs workerd with --verbose by default, which logs every
            // failed subrequest as "uncaught exception … Network connection lost"
            // even when the code awaits and handles it (the 502 and store-fault
            // tests fail subrequests on purpose). `wrangler dev` and production
            // run without it; a rejection nothing handles still fails the run.
            verbose: false,
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ORIGIN_URL: inject<string>("originUrl"),
                TEST_REDIS_URL: inject<string>("redisUrl"),
                TEST_FAULT_REDIS_URL: inject<string>("faultRedisUrl"),
                TEST_COUNT_REDIS_URL: inject<string>("countRedisUrl"),
                TEST_REDIS_TOKEN: inject<string>("redisToken"),
                TEST_GARBAGE_REDIS_URL: inject<string>("garbageRedisUrl"),
                TEST_ERROR_REDIS_URL: inject<string>("errorRedisUrl"),
                TEST_SLOW_REDIS_URL: inject<string>("slowRedisUrl"),
                TEST_LATE_REDIS_URL: inject<string>("lateRedisUrl"),
                // Fuzz seed to replay (empty: a fresh one, printed on failure).
                TEST_FUZZ_SEED: process.env.SLUICE_FUZZ_SEED ?? "",
              },
            },
          })),
        ],
        test: {
          name: "workerd",
          include: ["test/workerd/**/*.test.ts"],
          globalSetup: ["test/workerd/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
