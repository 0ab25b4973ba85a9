/**
 * @module test/workerd/fault-matrix — every store fault against every origin fault.
 *
 * Store {down, slow past its budget, garbage, 401, 500} × origin {down, slow
 * past its budget, reset mid-body, 101, 999}, under each onStoreError. Each
 * cell has a designed answer and log line: the store's failure decides the
 * limit (local: this isolate's memory; allow: fail open; deny: 503 before the
 * origin is asked), and the origin's failure decides the status (502, 504, or
 * a 200 whose body breaks). Never a 500, never past the budgets.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { gateway } from "./helpers.ts";

const STORE_BUDGET_MS = 100;
const ORIGIN_BUDGET_MS = 400;

/** Each store fault: the env that brings it, and the failure it must be logged as. */
const STORES = {
  down: { env: { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" }, failure: "error" },
  slow: { env: { UPSTASH_REDIS_REST_URL: env.TEST_SLOW_REDIS_URL }, failure: "timeout" },
  garbage: { env: { UPSTASH_REDIS_REST_URL: env.TEST_GARBAGE_REDIS_URL }, failure: "error" },
  "401": {
    env: { UPSTASH_REDIS_REST_URL: env.TEST_REDIS_URL, UPSTASH_REDIS_REST_TOKEN: "wrong-token" },
    failure: "error",
  },
  "500": { env: { UPSTASH_REDIS_REST_URL: env.TEST_ERROR_REDIS_URL }, failure: "error" },
} as const;

/** Each origin fault: where it is, and the status the client must get. */
const ORIGINS = {
  down: { origin: "http://127.0.0.1:9", path: "/x", status: 502 },
  slow: { origin: env.ORIGIN_URL, path: "/__slow?ms=3000", status: 504 },
  "reset mid-body": { origin: env.ORIGIN_URL, path: "/__reset-mid-body", status: 200 },
  "101": { origin: env.ORIGIN_URL, path: "/__raw-status/101", status: 502 },
  "999": { origin: env.ORIGIN_URL, path: "/__raw-status/999", status: 502 },
} as const;

const DESIGN = {
  local: { outcome: "degraded-local", degraded: "local", reachesOrigin: true },
  allow: { outcome: "degraded-allowed", degraded: "store-", reachesOrigin: true },
  deny: { outcome: "store-denied", degraded: null, reachesOrigin: false },
} as const;

function policy(onStoreError: keyof typeof DESIGN) {
  return {
    store: { timeoutMs: STORE_BUDGET_MS },
    origin: { timeoutMs: ORIGIN_BUDGET_MS },
    rules: [
      { name: "all", match: { path: "*" }, limits: [{ rate: "100/s", by: "ip" }], onStoreError },
    ],
  };
}

/** Reads the body to its end; a body the origin broke off ends in an error, not a hang. */
async function drain(res: Response): Promise<"complete" | "broken"> {
  try {
    await res.arrayBuffer();
    return "complete";
  } catch {
    return "broken";
  }
}

for (const [mode, design] of Object.entries(DESIGN) as [
  keyof typeof DESIGN,
  (typeof DESIGN)[keyof typeof DESIGN],
][]) {
  describe(`onStoreError ${mode}`, () => {
    for (const [storeFault, store] of Object.entries(STORES)) {
      it.each(Object.entries(ORIGINS))(`store ${storeFault} × origin %s`, async (_name, origin) => {
        const gw = gateway("redis", policy(mode), { ...store.env, ORIGIN_URL: origin.origin });
        const started = Date.now();
        const res = await gw.fetch(origin.path);
        const body = await drain(res);
        expect(Date.now() - started).toBeLessThan(STORE_BUDGET_MS * 4 + ORIGIN_BUDGET_MS + 1500);
        expect(res.status).not.toBe(500);
        const status = design.reachesOrigin ? origin.status : 503;
        expect(res.status).toBe(status);
        if (status >= 500) {
          expect(res.headers.get("content-type")).toBe("application/problem+json");
          expect(body).toBe("complete");
        } else {
          // Headers came, then the origin reset the connection: the client sees the break.
          expect(body).toBe("broken");
        }
        expect(gw.events).toHaveLength(1);
        expect(gw.events[0]).toMatchObject({
          rule: "all",
          outcome: design.outcome,
          store: "redis",
        });
        expect(gw.events[0]?.storeError).toMatch(new RegExp(`^${store.failure}: `));
        if (design.degraded) {
          expect(res.headers.get("sluice-degraded")).toContain(design.degraded);
        }
      });
    }
  });
}
