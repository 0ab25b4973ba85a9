/** @module cli/commands/subjects — `sluice usage`, `sluice reset` and `sluice audit`. */
import type { Command } from "../command.ts";
import { auditTable, usageTable } from "../render.ts";
import { wholeNumber } from "../values.ts";

const SUBJECT = {
  name: "<subject>",
  help: "tenant:<id>, key:<key-id> or ip:<address>",
};

export const usage: Command = {
  words: ["usage"],
  params: [SUBJECT],
  summary: "current usage of each limit that counts by a subject (consumes nothing)",
  options: {},
  examples: ["sluice usage tenant:acme", "sluice usage ip:203.0.113.7 --json"],
  fields: { subject: "<subject>" },
  async run(ctx) {
    const subject = ctx.arg(0);
    const body = await ctx.api().usage(subject);
    return ctx.print(body, () => usageTable(subject, body));
  },
};

export const reset: Command = {
  words: ["reset"],
  params: [SUBJECT],
  summary: "clear a subject's counters (for an address, also its failed-key lockout)",
  options: {},
  examples: ["sluice reset ip:203.0.113.7", "sluice reset tenant:acme"],
  fields: { subject: "<subject>" },
  async run(ctx) {
    const subject = ctx.arg(0);
    await ctx.confirm(`Reset every counter of ${subject}?`);
    const body = await ctx.api().reset(subject);
    return ctx.print(body, () => `reset ${subject}: ${body.cleared} counter(s) cleared`);
  },
};

export const audit: Command = {
  words: ["audit"],
  params: [],
  summary: "recent admin changes, newest first",
  options: {
    limit: { type: "string", value: "<n>", help: "how many entries, 1 to 10000 (default 20)" },
  },
  examples: ["sluice audit", "sluice audit --limit 50 --json"],
  async run(ctx) {
    const limit = wholeNumber(ctx.string("limit") ?? "20", "--limit", 10_000);
    const body = await ctx.api().audit(limit);
    return ctx.print(body, () => auditTable(body.entries));
  },
};
