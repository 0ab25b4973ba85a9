/** @module cli/commands — one entry per CLI command: its words, options, usage and what it does. */
import { checkPolicy } from "../../scripts/check-policy.ts";
import { expiryFrom, type OptionSpec, UsageError } from "./args.ts";
import type { AdminClient } from "./client.ts";
import { duration, table } from "./format.ts";

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export interface Context {
  args: string[];
  options: Record<string, string | true>;
  json: boolean;
  io: Io;
  now: number;
  /** Only for commands that talk to a gateway. */
  api(): AdminClient;
}

export interface Command {
  words: readonly string[];
  /** Positional arguments after the words, for the usage line. */
  params: string;
  options: OptionSpec;
  summary: string;
  offline?: boolean;
  /** Returns the exit code. */
  run(ctx: Context): Promise<number>;
}

const str = (ctx: Context, name: string): string | undefined => {
  const v = ctx.options[name];
  return typeof v === "string" ? v : undefined;
};
const need = (ctx: Context, name: string): string => {
  const v = str(ctx, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
};
const arg = (ctx: Context, i: number, what: string): string => {
  const v = ctx.args[i];
  if (v === undefined) throw new UsageError(`missing ${what}`);
  return v;
};
const noMoreArgs = (ctx: Context, n: number) => {
  if (ctx.args.length > n)
    throw new UsageError(`unexpected argument ${JSON.stringify(ctx.args[n])}`);
};
const print = (ctx: Context, value: unknown, text: () => string) => {
  ctx.io.out(ctx.json ? JSON.stringify(value, null, 2) : text());
  return 0;
};

interface TenantView {
  id: string;
  name?: string;
  plan: string;
  disabled: boolean;
  createdAt: string;
  overrides: Array<{ limit: string; rate: string; reason: string; expiresAt?: string }>;
}
interface KeyView {
  id: string;
  tenant: string;
  prefix: string;
  name?: string;
  createdAt: string;
  expiresAt?: string;
  disabled: boolean;
}

const tenantTable = (tenants: TenantView[]) =>
  table(
    ["TENANT", "PLAN", "STATUS", "OVERRIDES", "NAME", "CREATED"],
    tenants.map((t) => [
      t.id,
      t.plan,
      t.disabled ? "disabled" : "active",
      t.overrides.map((o) => `${o.limit}=${o.rate}`).join(",") || "-",
      t.name,
      t.createdAt,
    ]),
  );
const keyTable = (keys: KeyView[]) =>
  table(
    ["KEY ID", "PREFIX", "TENANT", "STATUS", "EXPIRES", "NAME", "CREATED"],
    keys.map((k) => [
      k.id,
      `${k.prefix}…`,
      k.tenant,
      k.disabled ? "revoked" : "active",
      k.expiresAt,
      k.name,
      k.createdAt,
    ]),
  );

export const COMMANDS: Command[] = [
  {
    words: ["keys", "create"],
    params: "",
    options: { tenant: "value", plan: "value", name: "value", expires: "value" },
    summary:
      "issue a key for --tenant (created on --plan if new); --name, --expires 2026-12-31T00:00:00Z|30d",
    async run(ctx) {
      noMoreArgs(ctx, 0);
      const tenantId = need(ctx, "tenant");
      const plan = str(ctx, "plan");
      const name = str(ctx, "name");
      const expires = str(ctx, "expires");
      const expiresAt = expires === undefined ? undefined : expiryFrom(expires, ctx.now);
      const api = ctx.api();
      const existing = await api
        .call("GET", `/tenants/${encodeURIComponent(tenantId)}`)
        .catch((err) => {
          if (err?.status === 404 && err.problem?.type?.endsWith("/admin-not-found"))
            return undefined;
          throw err;
        });
      if (!existing) {
        if (!plan) {
          throw new UsageError(
            `tenant ${JSON.stringify(tenantId)} does not exist; pass --plan to create it`,
          );
        }
        await api.call("POST", "/tenants", { id: tenantId, plan });
      } else if (plan && existing.tenant.plan !== plan) {
        throw new UsageError(
          `tenant ${JSON.stringify(tenantId)} is on plan ${JSON.stringify(existing.tenant.plan)}; change it with: sluice tenants update ${tenantId} --plan ${plan}`,
        );
      }
      const created = await api.call("POST", "/keys", {
        tenant: tenantId,
        ...(name ? { name } : {}),
        ...(expiresAt ? { expiresAt } : {}),
      });
      return print(ctx, created, () =>
        [
          `key ${created.key.id} for tenant ${created.key.tenant}${expiresAt ? `, expires ${expiresAt}` : ""}`,
          "",
          `  ${created.secret}`,
          "",
          "This secret is shown once and is not stored; keep it now.",
        ].join("\n"),
      );
    },
  },
  {
    words: ["keys", "list"],
    params: "",
    options: { tenant: "value" },
    summary: "list keys (prefixes and metadata, never secrets); --tenant to filter",
    async run(ctx) {
      noMoreArgs(ctx, 0);
      const tenant = str(ctx, "tenant");
      const query = tenant ? `?tenant=${encodeURIComponent(tenant)}` : "";
      const body = await ctx.api().call("GET", `/keys${query}`);
      return print(ctx, body, () => keyTable(body.keys));
    },
  },
  {
    words: ["keys", "revoke"],
    params: "<key-id>",
    options: {},
    summary: "revoke a key by its id (refused everywhere within 30 s)",
    async run(ctx) {
      const id = arg(ctx, 0, "<key-id>");
      noMoreArgs(ctx, 1);
      const body = await ctx.api().call("POST", `/keys/${encodeURIComponent(id)}/revoke`);
      return print(ctx, body, () => `revoked key ${body.key.id} (tenant ${body.key.tenant})`);
    },
  },
  {
    words: ["tenants", "list"],
    params: "",
    options: {},
    summary: "list tenants",
    async run(ctx) {
      noMoreArgs(ctx, 0);
      const body = await ctx.api().call("GET", "/tenants");
      return print(ctx, body, () => tenantTable(body.tenants));
    },
  },
  {
    words: ["tenants", "create"],
    params: "<id>",
    options: { plan: "value", name: "value" },
    summary: "create a tenant on --plan; --name",
    async run(ctx) {
      const id = arg(ctx, 0, "<id>");
      noMoreArgs(ctx, 1);
      const name = str(ctx, "name");
      const body = await ctx
        .api()
        .call("POST", "/tenants", { id, plan: need(ctx, "plan"), ...(name ? { name } : {}) });
      return print(ctx, body, () => tenantTable([body.tenant]));
    },
  },
  {
    words: ["tenants", "show"],
    params: "<id>",
    options: {},
    summary: "show a tenant and its overrides",
    async run(ctx) {
      const id = arg(ctx, 0, "<id>");
      noMoreArgs(ctx, 1);
      const body = await ctx.api().call("GET", `/tenants/${encodeURIComponent(id)}`);
      const t = body.tenant as TenantView;
      return print(ctx, body, () => {
        const overrides = t.overrides.map(
          (o) =>
            `  ${o.limit} = ${o.rate}  (${o.reason}${o.expiresAt ? `, until ${o.expiresAt}` : ""})`,
        );
        return [tenantTable([t]), ...(overrides.length ? ["overrides:", ...overrides] : [])].join(
          "\n",
        );
      });
    },
  },
  {
    words: ["tenants", "update"],
    params: "<id>",
    options: { plan: "value", name: "value", disable: "flag", enable: "flag" },
    summary: "change a tenant's --plan or --name, or --disable / --enable it",
    async run(ctx) {
      const id = arg(ctx, 0, "<id>");
      noMoreArgs(ctx, 1);
      if (ctx.options.disable && ctx.options.enable) {
        throw new UsageError("--disable and --enable contradict each other");
      }
      const change = {
        ...(str(ctx, "plan") ? { plan: str(ctx, "plan") } : {}),
        ...(str(ctx, "name") ? { name: str(ctx, "name") } : {}),
        ...(ctx.options.disable ? { disabled: true } : {}),
        ...(ctx.options.enable ? { disabled: false } : {}),
      };
      if (Object.keys(change).length === 0) {
        throw new UsageError("nothing to change: pass --plan, --name, --disable or --enable");
      }
      const body = await ctx.api().call("PATCH", `/tenants/${encodeURIComponent(id)}`, change);
      return print(ctx, body, () => tenantTable([body.tenant]));
    },
  },
  {
    words: ["tenants", "override"],
    params: "<id>",
    options: { limit: "value", rate: "value", reason: "value", expires: "value", remove: "flag" },
    summary:
      'set --limit 1d --rate "5000/day" --reason "…" [--expires 7d] for a tenant, or --limit 1d --remove',
    async run(ctx) {
      const id = arg(ctx, 0, "<id>");
      noMoreArgs(ctx, 1);
      const limit = need(ctx, "limit");
      const path = `/tenants/${encodeURIComponent(id)}/overrides/${encodeURIComponent(limit)}`;
      if (ctx.options.remove) {
        if (str(ctx, "rate") || str(ctx, "reason")) {
          throw new UsageError("--remove takes no --rate or --reason");
        }
        const body = await ctx.api().call("DELETE", path);
        return print(ctx, body, () => `removed override ${limit} of tenant ${id}`);
      }
      const expires = str(ctx, "expires");
      const body = await ctx.api().call("PUT", path, {
        rate: need(ctx, "rate"),
        reason: need(ctx, "reason"),
        ...(expires ? { expiresAt: expiryFrom(expires, ctx.now) } : {}),
      });
      return print(ctx, body, () => tenantTable([body.tenant]));
    },
  },
  {
    words: ["usage"],
    params: "<subject>",
    options: {},
    summary:
      "current usage per limit of tenant:<id>, key:<key-id> or ip:<address> (consumes nothing)",
    async run(ctx) {
      const subject = arg(ctx, 0, "<subject> (tenant:<id>, key:<key-id> or ip:<address>)");
      noMoreArgs(ctx, 1);
      const body = await ctx.api().call("GET", `/usage?subject=${encodeURIComponent(subject)}`);
      return print(ctx, body, () =>
        body.limits.length === 0
          ? `no limit counts by ${subject}`
          : table(
              ["RULE", "LIMIT", "REMAINING", "OF", "PERIOD", "FULL AGAIN"],
              body.limits.map((l: Record<string, number | string>) => [
                l.rule,
                l.limit,
                l.remaining,
                l.count,
                duration(Number(l.periodMs)),
                Number(l.resetMs) === 0 ? "now" : `in ${duration(Number(l.resetMs))}`,
              ]),
            ),
      );
    },
  },
  {
    words: ["reset"],
    params: "<subject>",
    options: {},
    summary: "clear a subject's counters (tenant:<id>, key:<key-id> or ip:<address>)",
    async run(ctx) {
      const subject = arg(ctx, 0, "<subject>");
      noMoreArgs(ctx, 1);
      const body = await ctx.api().call("POST", "/reset", { subject });
      return print(ctx, body, () => `reset ${subject}: ${body.cleared} counter(s) cleared`);
    },
  },
  {
    words: ["audit"],
    params: "",
    options: { limit: "value" },
    summary: "recent admin changes, newest first; --limit n (default 20)",
    async run(ctx) {
      noMoreArgs(ctx, 0);
      const limit = str(ctx, "limit") ?? "20";
      if (!/^\d+$/.test(limit)) throw new UsageError("--limit expects a whole number");
      const body = await ctx.api().call("GET", `/audit?limit=${limit}`);
      return print(ctx, body, () =>
        table(
          ["AT", "ACTOR", "ACTION", "TARGET", "DETAILS"],
          body.entries.map((e: Record<string, unknown>) => [
            e.at,
            e.actor,
            e.action,
            e.target,
            JSON.stringify(e.details),
          ]),
        ),
      );
    },
  },
  {
    words: ["policy", "check"],
    params: "[file]",
    options: {},
    summary: "validate a policy file offline (default: the bundled policy)",
    offline: true,
    async run(ctx) {
      const lines: string[] = [];
      const code = await checkPolicy(ctx.args, {
        out: (line) => lines.push(line),
        err: (line) => ctx.io.err(line),
      });
      if (lines.length > 0) ctx.io.out(lines.join("\n"));
      return code;
    },
  },
];
