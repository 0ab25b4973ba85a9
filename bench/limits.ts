/** @module bench/limits — the limits every contender enforces, and the same limits as a Sluice policy. */
import { type BenchRules, ROUTES, type RuleSpec } from "./contenders/shared.ts";

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
  });
  return {
    version: "bench",
    rules: [rule("load", rules.load), rule("tight", rules.tight)],
    ...(options.logAllowed === undefined ? {} : { log: { allowed: options.logAllowed } }),
  };
}
