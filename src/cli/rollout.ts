/** @module cli/rollout — what a policy change does before it ships: which limits change and which counters carry over (diff), and who would now be denied on logged traffic (replay). */
import { buildChecks, type Requester } from "../limiter/checks.ts";
import type { DecisionEvent } from "../observe/index.ts";
import { compileMatcher } from "../policy/match.ts";
import type { Limit, Policy, Rule } from "../policy/types.ts";
import { MemoryStore } from "../stores/memory/limit-store.ts";

/** Each algorithm but gcra tags its keys (limiter/checks.ts): a changed algorithm is a new key. */
const TAG: Record<Limit["algorithm"], string> = {
  gcra: "",
  "token-bucket": "~tb",
  "fixed-window": "~fw",
  "sliding-window": "~sw",
  "sliding-log": "~sl",
};

/** One line of `sluice policy diff`. */
export interface DiffRow {
  rule: string;
  /** The limit id, or "" for the rule's own settings. */
  limit: string;
  change: "unchanged" | "changed" | "added" | "removed";
  /** What happens to the limit's stored counters. */
  counters: "carry over" | "reset" | "start empty" | "abandoned" | "";
  /** The store key layout, `<prefix>:<rule>:<limit-id>[~tag]:<subject>`, new side first. */
  key: string;
  detail: string;
}

/**
 * Compares two validated policies limit by limit. A counter carries over when
 * its store key is the same on both sides (same prefix, rule name, limit id,
 * algorithm tag and subject kind), whatever its count or period; any of those
 * changing starts it afresh, and the old key is left to expire.
 *
 * @example
 * diffPolicies(oldPolicy, newPolicy);
 * // [{ rule: "api", limit: "ip-1m", change: "changed", counters: "carry over", detail: "count 100 → 200" }]
 */
export function diffPolicies(before: Policy, after: Policy): DiffRow[] {
  const rows: DiffRow[] = [];
  const names = [...new Set([...after.rules, ...before.rules].map((r) => r.name))];
  for (const name of names) {
    const a = before.rules.find((r) => r.name === name);
    const b = after.rules.find((r) => r.name === name);
    const settings = a && b ? ruleSettingsChanged(a, b) : [];
    if (settings.length > 0) {
      rows.push({
        rule: name,
        limit: "",
        change: "changed",
        counters: "",
        key: "",
        detail: settings.join("; "),
      });
    }
    const ids = [...new Set([...(b?.limits ?? []), ...(a?.limits ?? [])].map((l) => l.id))];
    for (const id of ids) rows.push(limitRow(name, id, before, after, a, b));
  }
  if (before.store.shards !== after.store.shards) {
    rows.push({
      rule: "*",
      limit: "",
      change: "changed",
      counters: "reset",
      key: "",
      detail: `store.shards ${before.store.shards} → ${after.store.shards}: every Durable Object counter starts afresh (Redis keeps them)`,
    });
  }
  return rows;
}

function limitRow(
  rule: string,
  id: string,
  before: Policy,
  after: Policy,
  a: Rule | undefined,
  b: Rule | undefined,
): DiffRow {
  const old = a?.limits.find((l) => l.id === id);
  const now = b?.limits.find((l) => l.id === id);
  const key = (p: Policy, l: Limit) =>
    `${p.prefix}:${rule}:${id}${l.fromPlan ? "-<rate>" : ""}${TAG[l.algorithm]}:<${subjectKind(l)}>`;
  if (!old && now) {
    return {
      rule,
      limit: id,
      change: "added",
      counters: "start empty",
      key: key(after, now),
      detail: describeLimit(now),
    };
  }
  if (old && !now) {
    return {
      rule,
      limit: id,
      change: "removed",
      counters: "abandoned",
      key: key(before, old),
      detail: "its keys expire on their own",
    };
  }
  if (!old || !now) throw new Error("unreachable");
  const [k0, k1] = [key(before, old), key(after, now)];
  const changes = limitChanges(old, now);
  if (before.prefix !== after.prefix) changes.push(`prefix ${before.prefix} → ${after.prefix}`);
  return {
    rule,
    limit: id,
    change: changes.length > 0 ? "changed" : "unchanged",
    counters: k0 === k1 ? "carry over" : "reset",
    key: k0 === k1 ? k1 : `${k1} (was ${k0})`,
    detail: changes.join("; "),
  };
}

function limitChanges(old: Limit, now: Limit): string[] {
  const out: string[] = [];
  for (const f of ["count", "periodMs", "burst", "cost", "algorithm"] as const) {
    if (old[f] !== now[f]) out.push(`${f} ${old[f]} → ${now[f]}`);
  }
  if (subjectKind(old) !== subjectKind(now))
    out.push(`by ${subjectKind(old)} → ${subjectKind(now)}`);
  if (old.fromPlan !== now.fromPlan)
    out.push(now.fromPlan ? "now from the plan" : "no longer from the plan");
  return out;
}

function ruleSettingsChanged(a: Rule, b: Rule): string[] {
  const out: string[] = [];
  const fields = [
    "match",
    "onStoreError",
    "mode",
    "countRejected",
    "countStatus",
    "action",
    "maxDelayMs",
    "concurrency",
  ] as const;
  for (const f of fields) {
    if (JSON.stringify(a[f]) !== JSON.stringify(b[f])) {
      out.push(`${f} ${JSON.stringify(a[f])} → ${JSON.stringify(b[f])}`);
    }
  }
  return out;
}

function subjectKind(l: Pick<Limit, "by">): string {
  return l.by.kind === "header" ? `header:${l.by.name}` : l.by.kind;
}

function describeLimit(l: Limit): string {
  if (l.fromPlan) return `the tenant's plan rates, by ${subjectKind(l)}`;
  return `${l.count}/${l.periodMs} ms burst ${l.burst}, ${l.algorithm}, by ${subjectKind(l)}`;
}

/** What `sluice policy replay` found. */
export interface ReplayReport {
  replayed: number;
  /** Lines that were no decision about limits, or had no time. */
  skipped: number;
  /** Admitted then, denied under the candidate. */
  nowDenied: number;
  /** Denied then, admitted under the candidate. */
  nowAdmitted: number;
  /** Who would now be denied, most first. */
  subjects: Array<{ subject: string; rule: string; denied: number; firstAt: string }>;
}

const ADMITTED = new Set(["allowed", "degraded-local", "degraded-allowed", "shadow-denied"]);
const DENIED = new Set(["denied", "concurrency-denied", "store-denied"]);

/**
 * Replays logged decisions, in time order, against `candidate` with the
 * reference models (the in-process `MemoryStore`), starting from empty
 * counters. Keys are re-derived from what the log holds: the key id stands
 * for the key, a header subject is one shared bucket (its value is not
 * logged), and a plan limit needs the tenant's plan from `plans`.
 *
 * @example
 * const report = await replayDecisions(events, candidate, { acme: "free" });
 * report.subjects[0]; // { subject: "tenant:acme", rule: "api", denied: 12, firstAt: "…" }
 */
export async function replayDecisions(
  events: readonly DecisionEvent[],
  candidate: Policy,
  plans: Readonly<Record<string, string>>,
): Promise<ReplayReport> {
  const match = compileMatcher(candidate.rules);
  const store = new MemoryStore();
  const report: ReplayReport = {
    replayed: 0,
    skipped: 0,
    nowDenied: 0,
    nowAdmitted: 0,
    subjects: [],
  };
  const bySubject = new Map<string, ReplayReport["subjects"][number]>();
  const timed = events
    .map((e) => ({ e, t: Date.parse(e.at ?? "") }))
    .filter(({ e, t }) => {
      const ok = Number.isFinite(t) && (ADMITTED.has(e.outcome) || DENIED.has(e.outcome));
      if (!ok) report.skipped++;
      return ok;
    })
    .sort((x, y) => x.t - y.t);
  for (const { e, t } of timed) {
    const rule = match(e.method, e.path);
    const wasAdmitted = ADMITTED.has(e.outcome);
    let admitted = true;
    if (rule && rule.mode === "enforce") {
      const who = requesterOf(e, candidate, plans);
      if (!who || (rule.limits.some((l) => l.fromPlan) && !who.planRates)) {
        report.skipped++;
        continue;
      }
      const checks = await buildChecks(candidate, rule, who);
      const decision = await store.decide({
        rule: rule.name,
        checks,
        nowMs: t,
        countRejected: rule.countRejected,
      });
      admitted = decision.allowed;
    }
    report.replayed++;
    if (wasAdmitted && !admitted) {
      report.nowDenied++;
      const subject = e.tenant
        ? `tenant:${e.tenant}`
        : e.keyId
          ? `key:${e.keyId}`
          : `ip:${e.ipKey}`;
      const id = `${subject}\u0000${rule?.name}`;
      const row = bySubject.get(id) ?? {
        subject,
        rule: rule?.name ?? "",
        denied: 0,
        firstAt: e.at ?? "",
      };
      row.denied++;
      bySubject.set(id, row);
    } else if (!wasAdmitted && admitted) report.nowAdmitted++;
  }
  report.subjects = [...bySubject.values()].sort((a, b) => b.denied - a.denied);
  return report;
}

function requesterOf(
  e: DecisionEvent,
  policy: Policy,
  plans: Readonly<Record<string, string>>,
): Requester | undefined {
  const plan = e.tenant ? plans[e.tenant] : undefined;
  const planRates = plan ? policy.plans[plan] : undefined;
  return {
    ipKey: e.ipKey,
    ...(e.keyId ? { apiKeyHash: e.keyId } : {}),
    ...(e.tenant ? { tenantId: e.tenant } : {}),
    ...(planRates ? { planRates } : {}),
    header: () => undefined,
  };
}

/**
 * Decision lines from a log: plain `sluice.decision` JSON lines (as the
 * gateway prints them), lines with a prefix before the JSON, and
 * `wrangler tail --format json` records (their `logs[].message`, timed by
 * the record when the line has no `at`).
 *
 * @example
 * decisionsIn(readFileSync("decisions.log", "utf8"));
 */
export function decisionsIn(text: string): DecisionEvent[] {
  const out: DecisionEvent[] = [];
  const take = (value: unknown, fallbackMs?: number) => {
    if (!value || typeof value !== "object") return;
    const e = value as DecisionEvent;
    if (e.msg !== "sluice.decision") return;
    out.push(
      e.at || fallbackMs === undefined ? e : { ...e, at: new Date(fallbackMs).toISOString() },
    );
  };
  for (const line of text.split("\n")) {
    const start = line.indexOf("{");
    if (start < 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(line.slice(start));
    } catch {
      continue;
    }
    const tail = value as {
      logs?: Array<{ message?: unknown[]; timestamp?: number }>;
      eventTimestamp?: number;
    };
    if (Array.isArray(tail.logs)) {
      for (const log of tail.logs) {
        for (const m of log.message ?? []) {
          try {
            take(typeof m === "string" ? JSON.parse(m) : m, log.timestamp ?? tail.eventTimestamp);
          } catch {
            // Not JSON: another line of the Worker's.
          }
        }
      }
    } else take(value);
  }
  return out;
}
