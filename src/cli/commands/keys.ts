/** @module cli/commands/keys — `sluice keys create | list | revoke`. */
import type { Tenant } from "../../tenants/types.ts";
import type { AdminApi } from "../api.ts";
import type { Command } from "../command.ts";
import { CliError } from "../errors.ts";
import { keyTable, newKey } from "../render.ts";
import { expiryFrom } from "../values.ts";

const EXPIRES_HELP = "when the key stops working: 2026-12-31T00:00:00Z, or from now: 30d, 12h, 90m";

export const keysCreate: Command = {
  words: ["keys", "create"],
  params: [],
  summary: "issue an API key for a tenant (created on --plan if new); shows the secret once",
  options: {
    tenant: { type: "string", value: "<id>", required: true, help: "the tenant the key is for" },
    plan: {
      type: "string",
      value: "<plan>",
      help: "the plan for a new tenant; an existing one must already be on it",
    },
    name: { type: "string", value: "<text>", help: "a label for the key, shown in listings" },
    expires: { type: "string", value: "<time>", help: EXPIRES_HELP },
  },
  examples: [
    "sluice keys create --tenant acme --plan pro",
    "sluice keys create --tenant acme --expires 30d --name ci",
  ],
  fields: { id: "--tenant", tenant: "--tenant", expiresAt: "--expires" },
  async run(ctx) {
    const tenant = ctx.required("tenant");
    const plan = ctx.string("plan");
    const name = ctx.string("name");
    const expires = ctx.string("expires");
    const expiresAt = expires === undefined ? undefined : expiryFrom(expires, ctx.now);
    const api = ctx.api();
    await ensureTenant(api, tenant, plan);
    const created = await api.createKey({
      tenant,
      ...(name ? { name } : {}),
      ...(expiresAt ? { expiresAt } : {}),
    });
    return ctx.print(created, () => newKey(created));
  },
};

/** Creates the tenant on `plan` if it is new; refuses (exit 1) what the gateway's state forbids. */
async function ensureTenant(api: AdminApi, id: string, plan: string | undefined): Promise<Tenant> {
  const existing = await api.findTenant(id);
  if (existing) {
    if (plan && existing.plan !== plan) {
      // Moving a tenant's plan is its own, audited change; creating a key must not do it quietly.
      throw new CliError(
        "api",
        `tenant ${JSON.stringify(id)} is on plan ${JSON.stringify(existing.plan)}; change it with: sluice tenants update ${id} --plan ${plan}`,
      );
    }
    return existing;
  }
  if (!plan) {
    throw new CliError(
      "api",
      `tenant ${JSON.stringify(id)} does not exist; pass --plan to create it`,
      { status: 404 },
    );
  }
  return (await api.createTenant({ id, plan })).tenant;
}

export const keysList: Command = {
  words: ["keys", "list"],
  params: [],
  summary: "list keys: ids, prefixes and status, never secrets",
  options: { tenant: { type: "string", value: "<id>", help: "only this tenant's keys" } },
  examples: ["sluice keys list", "sluice keys list --tenant acme --json"],
  async run(ctx) {
    const body = await ctx.api().listKeys(ctx.string("tenant"));
    return ctx.print(body, () => keyTable(body.keys));
  },
};

export const keysRevoke: Command = {
  words: ["keys", "revoke"],
  params: [{ name: "<key-id>", help: "the key's id, as `keys list` shows it (16 hex digits)" }],
  summary: "revoke a key by its id (refused everywhere within 30 s)",
  options: {},
  examples: ["sluice keys revoke 89ae7cba3acb7578"],
  async run(ctx) {
    await ctx.confirm(`Revoke key ${ctx.arg(0)}? It stops working everywhere within 30 s.`);
    const body = await ctx.api().revokeKey(ctx.arg(0));
    return ctx.print(body, () => `revoked key ${body.key.id} (tenant ${body.key.tenant})`);
  },
};
