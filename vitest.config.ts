/** @module vitest.config — two projects, named for where they run: `node` and `workerd`. */
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ORIGIN_URL: inject<string>("originUrl"),
                TEST_REDIS_URL: inject<string>("redisUrl"),
                TEST_FAULT_REDIS_URL: inject<string>("faultRedisUrl"),
                TEST_COUNT_REDIS_URL: inject<string>("countRedisUrl"),
                TEST_REDIS_TOKEN: inject<string>("redisToken"),
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
