/** @module test/node/tenants — key minting, plan overrides, the admin token check and the policy's plans. */

import { timingSafeEqual } from "hono/utils/buffer";
import { describe, expect, it, vi } from "vitest";
import { adminTokenMatches } from "../../../src/admin/auth.ts";
import { hashApiKey } from "../../../src/identity/secret.ts";
import { validatePolicy } from "../../../src/policy/validate.ts";
import { keyId, mintKey } from "../../../src/tenants/api-keys.ts";
import { effectiveRates } from "../../../src/tenants/plan.ts";

describe("mintKey", () => {
  it("makes distinct high-entropy keys, keeping only their hash, id and display prefix", async () => {
    const a = await mintKey("sk_live_");
    const b = await mintKey("sk_live_");
    expect(a.secret).toMatch(/^sk_live_[A-Za-z0-9_-]{43}$/);
    expect(a.secret).not.toBe(b.secret);
    expect(a.hash).toBe(await hashApiKey(a.secret));
    expect(a.id).toBe(a.hash.slice(0, 16));
    expect(keyId(a.hash)).toBe(a.id);
    expect(a.prefix).toBe(a.secret.slice(0, 12));
  });
});

describe("effectiveRates", () => {
  const plan = [
    { id: "1s", count: 5, periodMs: 1000, burst: 5 },
    { id: "1d", count: 1000, periodMs: 86_400_000, burst: 1000 },
  ];
  const at = Date.parse("2026-11-22T12:00:00Z");

  it("replaces the named rate while the override lasts, then falls back", () => {
    const overrides = [
      {
        limit: "1d",
        rate: "5000/day burst 6000",
        reason: "launch",
        expiresAt: "2026-11-23T00:00:00Z",
        createdAt: "2026-11-22T00:00:00Z",
      },
    ];
    expect(effectiveRates(plan, overrides, at)).toEqual([
      plan[0],
      { id: "1d", count: 5000, periodMs: 86_400_000, burst: 6000 },
    ]);
    expect(effectiveRates(plan, overrides, Date.parse("2026-11-23T00:00:00Z"))).toEqual(plan);
  });

  it("ignores overrides of rates the plan does not have, malformed ones and other periods", () => {
    const createdAt = "2026-11-22T00:00:00Z";
    const overrides = [
      { limit: "1h", rate: "1/h", reason: "old plan", createdAt },
      { limit: "1s", rate: "1/s; 2/min", reason: "two rates", createdAt },
      { limit: "1d", rate: "100/hour", reason: "stored before periods were checked", createdAt },
    ];
    expect(effectiveRates(plan, overrides, at)).toEqual(plan);
  });
});

describe("adminTokenMatches", () => {
  it("compares with Hono's constant-time comparison, and only a Bearer token", async () => {
    const equals = vi.fn((a: string, b: string) => timingSafeEqual(a, b));
    expect(await adminTokenMatches("Bearer s3cret", "s3cret", equals)).toBe(true);
    expect(equals).toHaveBeenLastCalledWith("s3cret", "s3cret");
    expect(await adminTokenMatches("bearer  s3cret ", "s3cret", equals)).toBe(true);
    expect(await adminTokenMatches("Bearer s3creT", "s3cret", equals)).toBe(false);
    expect(await adminTokenMatches("Basic s3cret", "s3cret", equals)).toBe(false);
    expect(await adminTokenMatches(undefined, "s3cret", equals)).toBe(false);
    // A missing token still goes through the comparison: both paths cost the same.
    expect(equals).toHaveBeenCalledTimes(5);
    expect(await adminTokenMatches("Bearer ", "", equals)).toBe(false);
  });
});

describe("plans and tenants in the policy", () => {
  it("are read with their defaults, plan rates named by period", () => {
    const result = validatePolicy({
      plans: { free: "5/s; 1000/day", pro: "50/s burst 100; 100000/day" },
      tenants: {},
      rules: [
        {
          name: "api",
          match: { path: "/api/*" },
          limits: [{ rate: "plan", by: "tenant" }],
        },
      ],
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.policy.plans.pro).toEqual([
      { id: "1s", count: 50, periodMs: 1000, burst: 100 },
      { id: "1d", count: 100_000, periodMs: 86_400_000, burst: 100_000 },
    ]);
    expect(result.policy.tenants).toEqual({
      enabled: true,
      namespace: "sluice-dir",
      header: "x-sluice-tenant",
      cacheTtlMs: 30_000,
      staleIfErrorMs: 60_000,
      authFailures: { count: 10, periodMs: 60_000, burst: 10 },
      keyPrefix: "sk_live_",
    });
    expect(result.policy.rules[0]?.limits[0]).toMatchObject({
      id: "tenant",
      fromPlan: true,
      by: { kind: "tenant" },
    });
  });
});
