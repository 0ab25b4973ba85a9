/** @module test/workerd/env — bindings the test pool adds on top of wrangler.toml. */
declare namespace Cloudflare {
  interface Env {
    TEST_REDIS_URL: string;
    TEST_FAULT_REDIS_URL: string;
    TEST_COUNT_REDIS_URL: string;
    TEST_REDIS_TOKEN: string;
    TEST_GARBAGE_REDIS_URL: string;
    TEST_ERROR_REDIS_URL: string;
    TEST_SLOW_REDIS_URL: string;
    TEST_LATE_REDIS_URL: string;
    TEST_FUZZ_SEED: string;
  }
  interface GlobalProps {
    mainModule: typeof import("../../src/index.ts");
  }
}
