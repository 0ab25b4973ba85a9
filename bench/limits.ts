/** @module bench/limits — the limits every contender enforces, and the same limits as a Sluice policy. */
import {
  type BenchRules,
  RATE_LIMIT_BINDINGS,
  ROUTES,
  type RuleSpec,
} from "./contenders/shared.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * `load` is where throughput is measured: limits far above what the run
 * sends, so every request costs a full decision and none is refused.
 * `tight` is where clients are driven over their limits: with hourly
 * periods nothing refills during a scenario, so the right number of
 * admissions is exact.
 */
export const BENCH_RULES: BenchRules = {
  load: { key: { count: 1_000_000, periodMs: MINUTE }, ip: { count: 1_000_000, periodMs: MINUTE } },
  tight: { key: { count: 50, periodMs: HOUR }, ip: { count: 80, periodMs: HOUR } },
};

/** Policy settings besides the rules; left out, Sluice's defaults apply. */
export interface SluicePolicyOptions {
  /** `log.allowed`: false drops the decision line of plain admissions (every other outcome is still logged). */
  logAllowed?: boolean;
  /** `"action": "delay"` with this `maxDelay` on every rule (throttling's cost). */
  maxDelay?: string;
  /** A concurrency cap per address of this many on every rule (a lease per request). */
  concurrency?: number;
  /** `"adaptive": {}` on every rule: the controller's report rides with each decision. */
  adaptive?: boolean;
  /** `store.shards`: the Durable Object store spreads each rule over this many objects. */
  shards?: number;
}

/**
 * The rules as Sluice's policy language has them (what `SLUICE_POLICY`
 * carries): one rule per route, its key limit first, then its address limit,
 * with the defaults otherwise (GCRA, burst = count, 250 ms store budget,
 * every decision logged).
 *
 * @example
 * JSON.stringify(sluicePolicy(BENCH_RULES)); // {"version":"bench","rules":[{"name":"load",…}]}
 * sluicePolicy(BENCH_RULES, { logAllowed: false }).log; // { allowed: false }
 */
export function sluicePolicy(
  rules: BenchRules,
  options: SluicePolicyOptions = {},
): Record<string, unknown> {
  const rule = (name: keyof BenchRules, spec: RuleSpec) => ({
    name,
    match: { path: `${ROUTES[name]}/*` },
    limits: [
      { rate: `${spec.key.count}/${spec.key.periodMs}ms`, by: "apiKey" },
      { rate: `${spec.ip.count}/${spec.ip.periodMs}ms`, by: "ip" },
    ],
    ...(options.maxDelay ? { action: "delay", maxDelay: options.maxDelay } : {}),
    ...(options.concurrency ? { concurrency: { max: options.concurrency, by: "ip" } } : {}),
    ...(options.adaptive ? { adaptive: {} } : {}),
  });
  return {
    version: "bench",
    rules: [rule("load", rules.load), rule("tight", rules.tight)],
    ...(options.logAllowed === undefined ? {} : { log: { allowed: options.logAllowed } }),
    ...(options.shards ? { store: { shards: options.shards } } : {}),
  };
}

/** The periods Cloudflare's rate limiting binding supports, in seconds. */
export const BINDING_PERIODS_SEC = [10, 60] as const;

/**
 * The binding's period for a limit: 10 s for periods up to 10 s, else 60 s,
 * the longest it has. The count stays the same, so an hourly limit becomes
 * the same count per minute: the over-limit scenarios, which finish inside
 * one window, admit the same numbers; what refills later does not matter to
 * them.
 *
 * @example
 * bindingPeriodSec(60_000); // 60
 * bindingPeriodSec(3_600_000); // 60
 * bindingPeriodSec(5_000); // 10
 */
export function bindingPeriodSec(periodMs: number): (typeof BINDING_PERIODS_SEC)[number] {
  return periodMs <= 10_000 ? 10 : 60;
}

/** One `[[ratelimits]]` entry of a wrangler config. */
export interface RateLimitBinding {
  name: string;
  namespace_id: string;
  simple: { limit: number; period: (typeof BINDING_PERIODS_SEC)[number] };
}

/**
 * The rules as rate limiting bindings, one per rule and limit (key, then
 * address), each in its own namespace so no two limits share a counter.
 *
 * @example
 * rateLimitBindings(BENCH_RULES)[2]; // { name: "RL_TIGHT_KEY", namespace_id: "1003", simple: { limit: 50, period: 60 } }
 */
export function rateLimitBindings(rules: BenchRules): RateLimitBinding[] {
  const bindings: RateLimitBinding[] = [];
  for (const rule of ["load", "tight"] as const) {
    for (const which of ["key", "ip"] as const) {
      const spec = rules[rule][which];
      bindings.push({
        name: RATE_LIMIT_BINDINGS[rule][which],
        namespace_id: String(1001 + bindings.length),
        simple: { limit: spec.count, period: bindingPeriodSec(spec.periodMs) },
      });
    }
  }
  return bindings;
}

/**
 * The bindings as wrangler.toml text.
 *
 * @example
 * rateLimitToml(rateLimitBindings(BENCH_RULES)); // "[[ratelimits]]\nname = \"RL_LOAD_KEY\"\n…"
 */
export function rateLimitToml(bindings: readonly RateLimitBinding[]): string {
  return bindings
    .map((b) =>
      [
        "[[ratelimits]]",
        `name = ${JSON.stringify(b.name)}`,
        `namespace_id = ${JSON.stringify(b.namespace_id)}`,
        `simple = { limit = ${b.simple.limit}, period = ${b.simple.period} }`,
      ].join("\n"),
    )
    .join("\n\n");
}
