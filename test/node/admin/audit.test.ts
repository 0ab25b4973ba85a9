/** @module test/node/admin/audit — the audit trail is never silently missing, and a 503 on a write says whether it may have applied (audit F4, F14). */

import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import type { AdminDeps } from "../../../src/admin/context.ts";
import { ADMIN_AUTH_FAILURES, adminApi } from "../../../src/admin/index.ts";
import { StoreError, type StoreFailure } from "../../../src/limiter/types.ts";
import { HealthProbe } from "../../../src/observe/health.ts";
import type { AuditOutcome } from "../../../src/observe/index.ts";
import type { Policy } from "../../../src/policy/types.ts";
import { validatePolicy } from "../../../src/policy/validate.ts";
import { ListStore } from "../../../src/protect/list-store.ts";
import { Screen } from "../../../src/protect/screen.ts";
import { toResponse } from "../../../src/respond/problem.ts";
import { MemoryStore } from "../../../src/stores/memory/limit-store.ts";
import type { Directory } from "../../../src/tenants/directory.ts";
import { ADMIN_AUTH_RULE, AuthFailureGuard } from "../../../src/tenants/guard.ts";
import type { KeyResolver } from "../../../src/tenants/resolver.ts";
import type { AuditEntry, Tenant } from "../../../src/tenants/types.ts";

const TOKEN = "admin-token-for-audit-tests-0123456789";

function policy(): Policy {
  const result = validatePolicy({
    plans: { pro: "10/s" },
    tenants: {},
    rules: [{ name: "api", match: { path: "/api/*" }, limits: [{ rate: "10/s", by: "ip" }] }],
  });
  if (!result.ok) throw new Error("bad test policy");
  return result.policy;
}

const ACME: Tenant = {
  id: "acme",
  plan: "pro",
  disabled: false,
  createdAt: "2026-12-01T00:00:00.000Z",
  overrides: [],
};

/** The admin API over fakes; `steps` records the order of store calls and log lines. */
function adminOver(fail: { audit?: StoreFailure; reset?: StoreFailure; save?: StoreFailure }) {
  const steps: string[] = [];
  const logged: { entry: AuditEntry; outcome: AuditOutcome | undefined }[] = [];
  const failing = (reason: StoreFailure | undefined, step: string) => async () => {
    steps.push(step);
    if (reason) throw new StoreError(`injected ${reason}`, reason);
  };
  const directory = {
    getTenant: async () => ACME,
    recordAudit: failing(fail.audit, "audit"),
    saveKey: failing(fail.save, "save"),
    saveTenant: failing(fail.save, "save"),
  } as unknown as Directory;
  const store = new MemoryStore();
  vi.spyOn(store, "reset").mockImplementation(failing(fail.reset, "reset"));
  const forgotten: unknown[] = [];
  const p = policy();
  const deps: AdminDeps = {
    token: TOKEN,
    policy: p,
    directory,
    lists: { store: new ListStore(directory, []), screen: new Screen({}) },
    resolver: { forget: (m: unknown) => forgotten.push(m) } as unknown as KeyResolver,
    keyGuard: undefined,
    tokenGuard: new AuthFailureGuard(store, "t", ADMIN_AUTH_FAILURES, ADMIN_AUTH_RULE),
    store,
    health: new HealthProbe(store, () => 1_780_000_000_000),
    clock: () => 1_780_000_000_000,
    log: (entry, outcome) => {
      steps.push(`log${outcome ? `:${outcome}` : ""}`);
      logged.push({ entry, outcome });
    },
  };
  const app = new Hono()
    .use(async (c, next) => {
      c.set("admin" as never, deps as never);
      await next();
    })
    .route("/a", adminApi)
    .onError((err) => toResponse(err));
  const call = async (method: string, path: string, body: unknown) => {
    const res = await app.request(`/a${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { call, steps, logged, forgotten };
}

describe("a reset's audit entry", () => {
  it("is stored and logged before anything is cleared", async () => {
    const admin = adminOver({});
    const res = await admin.call("POST", "/reset", { subject: "ip:203.0.113.7" });
    expect(res.status).toBe(200);
    // The api rule's per-address limit, then the address's admin-token failures.
    expect(admin.steps).toEqual(["audit", "log", "reset", "reset"]);
  });

  it("when it cannot be stored, nothing is reset and the 503 says so", async () => {
    const admin = adminOver({ audit: "error" });
    const res = await admin.call("POST", "/reset", { subject: "ip:203.0.113.7" });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ mayHaveApplied: false, target: "ip:203.0.113.7" });
    expect(admin.steps).toEqual(["audit", "log:failed"]);
  });

  it("when the reset then fails, the entry stays, a second line says so, and the 503 says it may have applied", async () => {
    const admin = adminOver({ reset: "timeout" });
    const res = await admin.call("POST", "/reset", { subject: "ip:203.0.113.7" });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ mayHaveApplied: true });
    expect(admin.steps).toEqual(["audit", "log", "reset", "log:unknown"]);
  });
});

describe("a directory write answered 503", () => {
  it.each([
    ["timeout", true, "unknown"],
    ["error", true, "unknown"],
    ["skipped", false, "failed"],
    ["overload", false, "failed"],
  ] as const)(
    "after a %s says mayHaveApplied %s and logs the entry as %s",
    async (reason, may, outcome) => {
      const admin = adminOver({ save: reason });
      const res = await admin.call("POST", "/keys", { tenant: "acme" });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ mayHaveApplied: may });
      expect(res.body.target).toMatch(/^key:[0-9a-f]{16}$/);
      expect(res.body.detail).toContain(may ? "may have been applied" : "Nothing was changed");
      expect(JSON.stringify(res.body)).not.toContain("sk_live_");
      expect(admin.logged).toEqual([expect.objectContaining({ outcome })]);
      expect(admin.logged[0]?.entry.action).toBe("key.create");
      // Cached answers are dropped whenever the change may be in the store.
      expect(admin.forgotten).toHaveLength(may ? 1 : 0);
    },
  );

  it("logs the applied change once, with no outcome", async () => {
    const admin = adminOver({});
    const res = await admin.call("PATCH", "/tenants/acme", { disabled: true });
    expect(res.status).toBe(200);
    expect(admin.logged).toEqual([expect.objectContaining({ outcome: undefined })]);
    expect(admin.forgotten).toEqual([{ tenant: "acme" }]);
  });
});
