/** @module cli/commands/tenants — `sluice tenants list | create | show | update | override`. */
import type { TenantChange } from "../api.ts";
import type { Command, Context } from "../command.ts";
import { UsageError } from "../errors.ts";
import { tenantDetail, tenantTable } from "../render.ts";
import { expiryFrom } from "../values.ts";

const ID = { name: "<id>", help: "the tenant's id (1–64 of a-z, 0-9, _ and -)" };

export const tenantsList: Command = {
  words: ["tenants", "list"],
  params: [],
  summary: "list tenants",
  options: {},
  examples: ["sluice tenants list", "sluice tenants list --json"],
  async run(ctx) {
    const body = await ctx.api().listTenants();
    return ctx.print(body, () => tenantTable(body.tenants));
  },
};

export const tenantsCreate: Command = {
  words: ["tenants", "create"],
  params: [ID],
  summary: "create a tenant on a plan",
  options: {
    plan: { type: "string", value: "<plan>", required: true, help: "one of the policy's plans" },
    name: { type: "string", value: "<text>", help: "a display name" },
  },
  examples: [
    "sluice tenants create beta --plan free",
    'sluice tenants create acme --plan pro --name "Acme Inc."',
  ],
  fields: { id: "<id>" },
  async run(ctx) {
    const name = ctx.string("name");
    const input = { id: ctx.arg(0), plan: ctx.required("plan"), ...(name ? { name } : {}) };
    const body = await ctx.api().createTenant(input);
    return ctx.print(body, () => tenantTable([body.tenant]));
  },
};

export const tenantsShow: Command = {
  words: ["tenants", "show"],
  params: [ID],
  summary: "show a tenant and its overrides",
  options: {},
  examples: ["sluice tenants show acme"],
  async run(ctx) {
    const body = await ctx.api().getTenant(ctx.arg(0));
    return ctx.print(body, () => tenantDetail(body.tenant));
  },
};

export const tenantsUpdate: Command = {
  words: ["tenants", "update"],
  params: [ID],
  summary: "change a tenant's plan or name, or disable or enable it",
  options: {
    plan: {
      type: "string",
      value: "<plan>",
      help: "move to this plan (drops the tenant's overrides)",
    },
    name: { type: "string", value: "<text>", help: "a new display name" },
    disable: { type: "boolean", help: "refuse all the tenant's keys" },
    enable: { type: "boolean", help: "accept the tenant's keys again" },
  },
  examples: ["sluice tenants update acme --plan free", "sluice tenants update acme --disable"],
  fields: { disabled: "--disable/--enable" },
  async run(ctx) {
    const body = await ctx.api().updateTenant(ctx.arg(0), tenantChange(ctx));
    return ctx.print(body, () => tenantTable([body.tenant]));
  },
};

function tenantChange(ctx: Context): TenantChange {
  if (ctx.flag("disable") && ctx.flag("enable")) {
    throw new UsageError("--disable and --enable contradict each other", { showUsage: true });
  }
  const plan = ctx.string("plan");
  const name = ctx.string("name");
  const change: TenantChange = {
    ...(plan ? { plan } : {}),
    ...(name ? { name } : {}),
    ...(ctx.flag("disable") ? { disabled: true } : {}),
    ...(ctx.flag("enable") ? { disabled: false } : {}),
  };
  if (Object.keys(change).length === 0) {
    throw new UsageError("nothing to change: pass --plan, --name, --disable or --enable", {
      showUsage: true,
    });
  }
  return change;
}

export const tenantsOverride: Command = {
  words: ["tenants", "override"],
  params: [ID],
  summary: "replace one of a tenant's plan rates for a while, or remove that override",
  options: {
    limit: {
      type: "string",
      value: "<period>",
      required: true,
      help: "the plan rate to replace, named by its period: 1s, 1m, 1d…",
    },
    rate: {
      type: "string",
      value: "<rate>",
      help: 'the new rate, with the same period: "5000/day"',
    },
    reason: { type: "string", value: "<text>", help: "why, for the audit trail" },
    expires: {
      type: "string",
      value: "<time>",
      help: "when the override ends: an ISO time or a duration (7d, 12h)",
    },
    remove: { type: "boolean", help: "remove the override instead" },
  },
  examples: [
    'sluice tenants override acme --limit 1d --rate "200000/day" --reason "launch week" --expires 7d',
    "sluice tenants override acme --limit 1d --remove",
  ],
  fields: { expiresAt: "--expires" },
  async run(ctx) {
    const id = ctx.arg(0);
    const limit = ctx.required("limit");
    if (ctx.flag("remove")) {
      if (ctx.string("rate") || ctx.string("reason") || ctx.string("expires")) {
        throw new UsageError("--remove takes no --rate, --reason or --expires", {
          showUsage: true,
        });
      }
      const body = await ctx.api().removeOverride(id, limit);
      return ctx.print(body, () => `removed override ${limit} of tenant ${id}`);
    }
    const expires = ctx.string("expires");
    const body = await ctx.api().setOverride(id, limit, {
      rate: ctx.required("rate", " (or pass --remove)"),
      reason: ctx.required("reason"),
      ...(expires ? { expiresAt: expiryFrom(expires, ctx.now) } : {}),
    });
    return ctx.print(body, () => tenantTable([body.tenant]));
  },
};
