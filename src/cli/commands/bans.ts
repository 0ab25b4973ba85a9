/** @module cli/commands/bans — `sluice bans list | lift`: bans in force, and lifting one subject's. */
import type { Command } from "../command.ts";
import { banTable } from "../render.ts";

const RULE = {
  rule: { type: "string", value: "<rule>", help: "only this rule's bans" },
} as const;

export const bansList: Command = {
  words: ["bans", "list"],
  params: [],
  summary: "bans in force: rule, subject, level and time left",
  options: RULE,
  examples: ["sluice bans list", "sluice bans list --rule login --json"],
  async run(ctx) {
    const body = await ctx.api().listBans(ctx.string("rule"));
    return ctx.print(body, () => banTable(body.bans));
  },
};

export const bansLift: Command = {
  words: ["bans", "lift"],
  params: [
    {
      name: "<subject>",
      help: "ip:<address>, key:<key-id>, tenant:<id>, or a subject as `bans list` shows it",
    },
  ],
  summary: "lift a subject's bans and clear its counters on the banning rules",
  options: RULE,
  examples: ["sluice bans lift ip:203.0.113.7", "sluice bans lift key:89ae7cba3acb7578 --rule api"],
  async run(ctx) {
    const subject = ctx.arg(0);
    // The gateway refuses an encoded "/" in paths: an IPv6 subnet goes as its network address.
    const sent = subject.replace(/^(ip:[^/]+)\/\d{1,3}$/, "$1");
    const body = await ctx.api().liftBan(sent, ctx.string("rule"));
    return ctx.print(
      body,
      () => `lifted ${body.lifted.length} ban(s) on ${subject}\n${banTable(body.lifted)}`,
    );
  },
};
