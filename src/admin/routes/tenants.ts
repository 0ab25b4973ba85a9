/** @module admin/routes/tenants — tenants: list, create, read, update, and per-limit overrides. */
import { Hono } from "hono";
import { planRateProblem } from "../../policy/fit.ts";
import { TENANT_ID } from "../../policy/tenants.ts";
import type { Limit, Policy } from "../../policy/types.ts";
import { badRequest, conflict, missing } from "../../respond/problem.ts";
import { parseOverrideRate } from "../../tenants/plan.ts";
import type { Override, Tenant } from "../../tenants/types.ts";
import { type AdminEnv, auditEntry, commit, jsonBody, tenantOr404 } from "../context.ts";
import {
  type Json,
  object,
  optionalBoolean,
  optionalFutureTime,
  optionalString,
  requiredString,
} from "../input.ts";
import type { TenantBody, TenantsBody } from "../views.ts";

/** `/tenants…` under the admin base. */
export const tenantRoutes = new Hono<AdminEnv>();

tenantRoutes.get("/", async (c) =>
  c.json<TenantsBody>({ tenants: await c.var.admin.directory.listTenants() }),
);

tenantRoutes.post("/", async (c) => {
  const { directory, policy, clock } = c.var.admin;
  const input = object(await jsonBody(c), ["id", "plan", "name"]);
  const id = requiredString(input, "id", 64);
  if (!TENANT_ID.test(id)) {
    throw badRequest("id", 'expected 1–64 of lower-case letters, digits, "_" or "-"');
  }
  const plan = requiredString(input, "plan", 64);
  checkPlan(policy, plan);
  const name = optionalString(input, "name", 200);
  if (await directory.getTenant(id)) throw conflict(`Tenant ${JSON.stringify(id)} exists.`);
  const tenant: Tenant = {
    id,
    ...(name ? { name } : {}),
    plan,
    disabled: false,
    createdAt: new Date(clock()).toISOString(),
    overrides: [],
  };
  const entry = auditEntry(c, "tenant.create", `tenant:${id}`, { plan, ...(name ? { name } : {}) });
  await commit(c, entry, () => directory.saveTenant(tenant, entry));
  return c.json<TenantBody, 201>({ tenant }, 201);
});

tenantRoutes.get("/:id", async (c) =>
  c.json<TenantBody>({ tenant: await tenantOr404(c, c.req.param("id")) }),
);

tenantRoutes.patch("/:id", async (c) => {
  const { directory, policy, resolver } = c.var.admin;
  const input = object(await jsonBody(c), ["plan", "name", "disabled"]);
  const tenant = await tenantOr404(c, c.req.param("id"));
  const plan = optionalString(input, "plan", 64);
  if (plan !== undefined) checkPlan(policy, plan);
  const name = optionalString(input, "name", 200);
  const disabled = optionalBoolean(input, "disabled");
  const changes: Json = {};
  if (plan !== undefined && plan !== tenant.plan) changes.plan = { from: tenant.plan, to: plan };
  if (name !== undefined && name !== tenant.name) changes.name = { from: tenant.name, to: name };
  if (disabled !== undefined && disabled !== tenant.disabled) changes.disabled = disabled;
  // Overrides were granted against the old plan's rates: a new plan starts clean.
  const planChanged = changes.plan !== undefined;
  if (planChanged && tenant.overrides.length > 0) {
    changes.overridesDropped = tenant.overrides.map((o) => o.limit);
  }
  const updated: Tenant = {
    ...tenant,
    ...(plan !== undefined ? { plan } : {}),
    ...(planChanged ? { overrides: [] } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(disabled !== undefined ? { disabled } : {}),
  };
  const entry = auditEntry(c, "tenant.update", `tenant:${tenant.id}`, changes);
  await commit(
    c,
    entry,
    () => directory.saveTenant(updated, entry, tenant),
    () => resolver?.forget({ tenant: tenant.id }),
  );
  return c.json<TenantBody>({ tenant: updated });
});

tenantRoutes.put("/:id/overrides/:limit", async (c) => {
  const { directory, policy, resolver, clock } = c.var.admin;
  const input = object(await jsonBody(c), ["rate", "reason", "expiresAt"]);
  const tenant = await tenantOr404(c, c.req.param("id"));
  const limit = c.req.param("limit");
  const rate = checkOverride(policy, tenant, limit, input);
  const reason = requiredString(input, "reason", 500);
  const expiresAt = optionalFutureTime(input, "expiresAt", clock());
  const override: Override = {
    limit,
    rate,
    reason,
    ...(expiresAt ? { expiresAt } : {}),
    createdAt: new Date(clock()).toISOString(),
  };
  const updated: Tenant = {
    ...tenant,
    overrides: [...tenant.overrides.filter((o) => o.limit !== limit), override],
  };
  const entry = auditEntry(c, "tenant.override.set", `tenant:${tenant.id}`, { ...override });
  await commit(
    c,
    entry,
    () => directory.saveTenant(updated, entry, tenant),
    () => resolver?.forget({ tenant: tenant.id }),
  );
  return c.json<TenantBody>({ tenant: updated });
});

tenantRoutes.delete("/:id/overrides/:limit", async (c) => {
  const { directory, resolver } = c.var.admin;
  const tenant = await tenantOr404(c, c.req.param("id"));
  const limit = c.req.param("limit");
  if (!tenant.overrides.some((o) => o.limit === limit)) {
    throw missing(`Override ${JSON.stringify(limit)} of tenant ${JSON.stringify(tenant.id)}`);
  }
  const updated: Tenant = {
    ...tenant,
    overrides: tenant.overrides.filter((o) => o.limit !== limit),
  };
  const entry = auditEntry(c, "tenant.override.remove", `tenant:${tenant.id}`, { limit });
  await commit(
    c,
    entry,
    () => directory.saveTenant(updated, entry, tenant),
    () => resolver?.forget({ tenant: tenant.id }),
  );
  return c.json<TenantBody>({ tenant: updated });
});

/** @throws {SluiceHttpError} 400 naming `field` when the policy offers no such plan. */
function checkPlan(policy: Policy, plan: string, field = "plan"): void {
  if (Object.hasOwn(policy.plans, plan)) return;
  const offered = Object.keys(policy.plans);
  throw badRequest(
    field,
    `unknown plan ${JSON.stringify(plan)}; the policy offers ${offered.length ? offered.join(", ") : "no plans"}`,
  );
}

/**
 * An override replaces one rate of the tenant's plan: it keeps that rate's
 * period (the check's id names the period; another would mislabel every
 * header and log) and must suit every plan limit's algorithm, cost and precision.
 *
 * @returns the override's rate text.
 * @throws {SluiceHttpError} 400 naming `limit` or `rate`.
 */
function checkOverride(policy: Policy, tenant: Tenant, limit: string, input: Json): string {
  const planRates = policy.plans[tenant.plan] ?? [];
  const planRate = planRates.find((r) => r.id === limit);
  if (!planRate) {
    throw badRequest(
      "limit",
      `plan ${JSON.stringify(tenant.plan)} has no rate ${JSON.stringify(limit)}; its rates are ${planRates.map((r) => r.id).join(", ") || "none"}`,
    );
  }
  const rate = requiredString(input, "rate", 100);
  const parsed = parseOverrideRate(rate);
  if (!parsed) throw badRequest("rate", 'expected exactly one rate like "200000/day"');
  if (parsed.periodMs !== planRate.periodMs) {
    throw badRequest(
      "rate",
      `an override of ${JSON.stringify(limit)} keeps its period; expected a rate per ${limit}, like "${planRate.count * 2}/${limit}"`,
    );
  }
  for (const l of planLimits(policy)) {
    const problem = planRateProblem(l, parsed);
    if (problem) {
      throw badRequest(
        "rate",
        `for ${l.algorithm} limit ${JSON.stringify(l.id)}: ${problem.message}`,
      );
    }
  }
  return rate;
}

/** Every limit whose rates come from plans (their costs bound override bursts). */
function planLimits(policy: Policy): Limit[] {
  return policy.rules.flatMap((r) => r.limits.filter((l) => l.fromPlan));
}
