/** @module cli/commands/lists — `sluice lists list | show | add | remove`: the runtime entries of the policy's lists. */
import type { ListEntries } from "../api.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";
import type { OptionSpecs } from "../options.ts";
import { listDetail, listsTable } from "../render.ts";
import { expiryFrom } from "../values.ts";

const NAME = { name: "<list>", help: 'a list the policy declares under "lists"' };

/** The entry options, each taking one value or several separated by commas. */
const ENTRY_OPTIONS = {
  ip: {
    type: "string",
    value: "<cidr,…>",
    help: "addresses or CIDR ranges: 203.0.113.0/24,2001:db8::/32",
  },
  tenant: {
    type: "string",
    value: "<id,…>",
    help: "tenant ids (matched on requests whose key resolves to them)",
  },
  country: {
    type: "string",
    value: "<cc,…>",
    help: "country codes as request.cf.country has them: KP,T1",
  },
} as const satisfies OptionSpecs;

/** The entries given with --ip, --tenant and --country, as the admin API takes them. */
function entries(ctx: Parameters<Command["run"]>[0]): ListEntries {
  const split = (name: string) =>
    ctx
      .string(name)
      ?.split(",")
      .map((v) => v.trim())
      .filter((v) => v !== "");
  const ips = split("ip");
  const tenants = split("tenant");
  const countries = split("country");
  const out: ListEntries = {
    ...(ips?.length ? { ips } : {}),
    ...(tenants?.length ? { tenants } : {}),
    ...(countries?.length ? { countries } : {}),
  };
  if (Object.keys(out).length === 0) {
    throw new UsageError("give at least one of --ip, --tenant or --country", { showUsage: true });
  }
  return out;
}

export const listsList: Command = {
  words: ["lists", "list"],
  params: [],
  summary: "the policy's lists, their actions and how many entries each has",
  options: {},
  examples: ["sluice lists list", "sluice lists list --json"],
  async run(ctx) {
    const body = await ctx.api().listLists();
    return ctx.print(body, () => listsTable(body.lists));
  },
};

export const listsShow: Command = {
  words: ["lists", "show"],
  params: [NAME],
  summary: "a list's entries: the policy's, and those added at runtime with reason and expiry",
  options: {},
  examples: ["sluice lists show blocked"],
  async run(ctx) {
    const body = await ctx.api().getList(ctx.arg(0));
    return ctx.print(body, () => listDetail(body.list));
  },
};

export const listsAdd: Command = {
  words: ["lists", "add"],
  params: [NAME],
  summary: "add entries to a list (every isolate applies them within 15 s)",
  options: {
    ...ENTRY_OPTIONS,
    reason: { type: "string", value: "<text>", required: true, help: "why, for the audit trail" },
    expires: {
      type: "string",
      value: "<time>",
      help: "when the entries stop matching: an ISO time or a duration (90m, 12h, 7d)",
    },
  },
  examples: [
    'sluice lists add blocked --ip 198.51.100.0/24 --reason "credential stuffing" --expires 7d',
    'sluice lists add partners --tenant acme,globex --reason "contract 2026-12"',
  ],
  fields: { ips: "--ip", tenants: "--tenant", countries: "--country", expiresAt: "--expires" },
  async run(ctx) {
    const name = ctx.arg(0);
    const add = entries(ctx);
    const expires = ctx.string("expires");
    const body = await ctx.api().addToList(name, {
      ...add,
      reason: ctx.required("reason"),
      ...(expires ? { expiresAt: expiryFrom(expires, ctx.now) } : {}),
    });
    return ctx.print(body, () => `added ${body.added} to list ${name}\n${listDetail(body.list)}`);
  },
};

export const listsRemove: Command = {
  words: ["lists", "remove"],
  params: [NAME],
  summary: "remove runtime entries from a list (the policy's own stay)",
  options: ENTRY_OPTIONS,
  examples: ["sluice lists remove blocked --ip 198.51.100.0/24"],
  fields: { ips: "--ip", tenants: "--tenant", countries: "--country" },
  async run(ctx) {
    const name = ctx.arg(0);
    const body = await ctx.api().removeFromList(name, entries(ctx));
    return ctx.print(
      body,
      () => `removed ${body.removed} from list ${name}\n${listDetail(body.list)}`,
    );
  },
};
