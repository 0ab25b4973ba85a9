/** @module admin/routes/bans — bans in force: list them, lift one subject's (audited); lifting clears this isolate's memory of it at once. */
import { type Context, Hono } from "hono";
import { ipKey } from "../../identity/ip.ts";
import { BAN_KEY_PART } from "../../limiter/ban.ts";
import { banSubjectKeys } from "../../limiter/checks.ts";
import type { BanEntry } from "../../limiter/types.ts";
import { badRequest, missing } from "../../respond/problem.ts";
import { type AdminEnv, auditEntry, auditThen } from "../context.ts";
import type { BansBody, BanView, LiftBody } from "../views.ts";

/** `/bans…` under the admin base. */
export const banRoutes = new Hono<AdminEnv>();

/** A ban in force with where it lives. */
interface Found extends BanEntry {
  rule: string;
  /** The subject as store keys hold it (`ip:…`, `key:<sha256>`, `tenant:…`). */
  subject: string;
}

banRoutes.get("/", async (c) => {
  const { clock } = c.var.admin;
  const nowMs = clock();
  const bans = await bansInForce(c, nowMs);
  return c.json<BansBody>({ bans: bans.map((b) => view(b, nowMs)) });
});

banRoutes.delete("/:subject", async (c) => {
  const { store, policy, clock } = c.var.admin;
  const text = c.req.param("subject") ?? "";
  const matches = subjectMatcher(text, policy.identity.ip.ipv6Subnet);
  const nowMs = clock();
  const lifted = (await bansInForce(c, nowMs)).filter((b) => matches(b.subject));
  if (lifted.length === 0) throw missing(`A ban on ${JSON.stringify(text)}`);
  const entry = auditEntry(c, "ban.lift", text, {
    bans: lifted.map((b) => ({
      rule: b.rule,
      level: b.level,
      until: new Date(b.untilMs).toISOString(),
    })),
  });
  // The entry is in the trail before anything is lifted.
  await auditThen(c, entry, async () => {
    for (const ban of lifted) {
      const rule = policy.rules.find((r) => r.name === ban.rule);
      if (!rule) continue;
      // Through the runtime's store (the blocked-subject cache): this isolate forgets the ban at once.
      await store.reset(rule.name, banSubjectKeys(policy, rule, ban.subject));
    }
  });
  return c.json<LiftBody>({ subject: text, lifted: lifted.map((b) => view(b, nowMs)) });
});

/** Every ban in force of the rules with bans, `?rule=` keeping one rule's. */
async function bansInForce(c: Context<AdminEnv>, nowMs: number): Promise<Found[]> {
  const { store, policy } = c.var.admin;
  const only = c.req.query("rule");
  const rules = policy.rules.filter((r) => r.ban && (only === undefined || r.name === only));
  if (only !== undefined && rules.length === 0) {
    throw badRequest("rule", `no rule ${JSON.stringify(only)} with a ban`);
  }
  if (rules.length === 0) return [];
  const prefix = `${policy.prefix}:`;
  const entries = await store.listBans(
    prefix,
    rules.map((r) => r.name),
    nowMs,
  );
  const found: Found[] = [];
  for (const e of entries) {
    const at = e.key.indexOf(BAN_KEY_PART, prefix.length);
    const rule = e.key.slice(prefix.length, at);
    if (at === -1 || !rules.some((r) => r.name === rule)) continue;
    found.push({ ...e, rule, subject: e.key.slice(at + BAN_KEY_PART.length) });
  }
  return found.sort((a, b) => a.rule.localeCompare(b.rule) || a.subject.localeCompare(b.subject));
}

/**
 * Which stored subjects `text` names: `ip:<address>` (keyed as the limits
 * key it: IPv6 by subnet), `key:<key id>` (the first 16 hex digits of the
 * key's hash, as the log's keyId), or a stored subject as listed.
 *
 * @throws {SluiceHttpError} 400 for something that is not a subject.
 */
function subjectMatcher(text: string, ipv6Subnet: number): (subject: string) => boolean {
  const colon = text.indexOf(":");
  const kind = colon === -1 ? text : text.slice(0, colon);
  const value = colon === -1 ? "" : text.slice(colon + 1);
  if (kind === "ip" && value !== "") {
    const key = value.includes("/") ? value : ipKey(value, ipv6Subnet);
    if (!key)
      throw badRequest(
        "subject",
        `expected an IP address after "ip:", got ${JSON.stringify(value)}`,
      );
    return (s) => s === `ip:${key}`;
  }
  if (kind === "key" && /^[0-9a-f]{16}$/.test(value)) return (s) => s.startsWith(`key:${value}`);
  if ((kind === "key" || kind === "hdr") && /^[0-9a-f]{64}$/.test(value)) return (s) => s === text;
  if (kind === "tenant" && value !== "") return (s) => s === text;
  if (text === "global") return (s) => s === "global";
  throw badRequest(
    "subject",
    `expected "ip:<address>", "key:<key id>", "tenant:<id>", "global" or "hdr:<hash>" as GET /bans lists it, got ${JSON.stringify(text.slice(0, 80))}`,
  );
}

function view(ban: Found, nowMs: number): BanView {
  const subject = ban.subject.startsWith("key:") ? ban.subject.slice(0, 4 + 16) : ban.subject;
  return {
    rule: ban.rule,
    subject,
    level: ban.level,
    until: new Date(ban.untilMs).toISOString(),
    retryAfter: Math.max(1, Math.ceil((ban.untilMs - nowMs) / 1000)),
  };
}
