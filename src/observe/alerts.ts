/** @module observe/alerts — thresholds from the policy's `alerts`, watched in each isolate and told once across isolates: one `sluice.alert` line (and webhook POST) per episode, never per request. */
import type { AlertsConfig } from "../policy/types.ts";
import { withBudget } from "../stores/budget.ts";
import { BoundedMap } from "../util/bounded-map.ts";
import type { DecisionEvent } from "./index.ts";
import type { Background, EventListener } from "./observer.ts";
import type { Webhook } from "./webhook.ts";

/** One alert as logged and POSTed. */
export interface Alert {
  msg: "sluice.alert";
  alert: "quota" | "denials" | "store-degraded";
  at: string;
  [detail: string]: unknown;
}

/** Outcomes that say nothing about a rule's limits (refusals of keys, follow-up lines). */
const NOT_DECISIONS = new Set([
  "refunded",
  "refund-failed",
  "unauthorized",
  "forbidden",
  "key-locked",
  "abandoned",
]);
const DENIED = new Set(["denied", "concurrency-denied", "banned"]);
/** Slices of a denial window: the rate is measured over the last `within`, give or take a slice. */
const SLICES = 10;
/** Longest a quota episode is held across isolates: a daily quota may alert again after an hour. */
const MAX_QUOTA_HOLD_MS = 3_600_000;
const MIN_HOLD_MS = 1_000;
/** A claim that has not answered by then tells the alert anyway. */
const CLAIM_BUDGET_MS = 1_000;

/** Where isolates claim an episode, so only the first tells it (the metrics store). */
export interface AlertClaims {
  /**
   * Claims an episode for `holdMs`: true for the first isolate to ask, false
   * for every other until the hold ends. One store call.
   */
  claimAlert(episode: string, holdMs: number, nowMs: number): Promise<boolean>;
}

interface Window {
  /** Start of each slice's time, and its counts. */
  starts: number[];
  total: number[];
  denied: number[];
  firing: boolean;
}

/**
 * Watches decisions for the policy's thresholds. Each isolate sees an
 * episode start when its condition starts to hold, and again only after the
 * condition has cleared (a tenant's limit refilled below the share, the
 * denial rate fallen to half the threshold, the store answering again).
 *
 * With `claims`, an isolate that sees an episode start claims it in the
 * store first, in the request's background: only the first claim within the
 * episode's hold (a denial window, the degraded time, a quota's window up to
 * an hour) is logged and POSTed, so many isolates tell one episode once. A
 * claim that fails (the store is down, which is what a store-degraded alert
 * is about) tells it anyway: a repeat is better than silence.
 *
 * @example
 * const alerts = new AlertWatch(policy.alerts, webhook, (a) => console.log(JSON.stringify(a)), metricsStore);
 */
export class AlertWatch implements EventListener {
  readonly #config: AlertsConfig;
  readonly #webhook: Webhook | undefined;
  readonly #log: (alert: Alert) => void;
  readonly #claims: AlertClaims | undefined;
  /** Tenant limits over the share now, until when (their reset). */
  readonly #quota = new BoundedMap<string, number>(10_000);
  readonly #windows = new Map<string, Window>();
  #degradedSince: number | undefined;
  #degradedFired = false;

  constructor(
    config: AlertsConfig,
    webhook: Webhook | undefined,
    log: (alert: Alert) => void,
    claims?: AlertClaims,
  ) {
    this.#config = config;
    this.#webhook = webhook;
    this.#log = log;
    this.#claims = claims;
  }

  decided(event: DecisionEvent, nowMs: number, background: Background): void {
    if (NOT_DECISIONS.has(event.outcome)) return;
    if (this.#config.denials) this.#denials(event, nowMs, background, this.#config.denials);
    if (this.#config.storeDegraded)
      this.#store(event, nowMs, background, this.#config.storeDegraded.forMs);
  }

  /** A tenant's use of one limit after a decision: `used` of its capacity, refilled in `resetMs`. */
  quota(
    usage: { tenant: string; rule: string; limit: string; used: number; resetMs: number },
    nowMs: number,
    background: Background,
  ): void {
    const above = this.#config.quota?.above;
    if (above === undefined) return;
    const key = `${usage.tenant}\u0000${usage.rule}\u0000${usage.limit}`;
    if (usage.used < above) {
      this.#quota.delete(key);
      return;
    }
    const until = this.#quota.get(key);
    this.#quota.set(key, nowMs + usage.resetMs);
    if (until !== undefined && until > nowMs) return;
    const { tenant, rule, limit, used } = usage;
    const episode = {
      key: episodeKey("quota", tenant, rule, limit),
      holdMs: Math.min(usage.resetMs, MAX_QUOTA_HOLD_MS),
    };
    this.#fire({ alert: "quota", tenant, rule, limit, used, above }, episode, nowMs, background);
  }

  #denials(
    event: DecisionEvent,
    nowMs: number,
    background: Background,
    cfg: NonNullable<AlertsConfig["denials"]>,
  ): void {
    const w = this.#window(event.rule);
    const slice = cfg.withinMs / SLICES;
    const last = w.starts.length - 1;
    if (last < 0 || nowMs - (w.starts[last] ?? 0) >= slice) {
      w.starts.push(nowMs);
      w.total.push(0);
      w.denied.push(0);
    }
    // Slices older than the window stop counting.
    while (w.starts.length > 0 && nowMs - (w.starts[0] ?? 0) >= cfg.withinMs) {
      w.starts.shift();
      w.total.shift();
      w.denied.shift();
    }
    const i = w.starts.length - 1;
    w.total[i] = (w.total[i] ?? 0) + 1;
    if (DENIED.has(event.outcome)) w.denied[i] = (w.denied[i] ?? 0) + 1;
    const total = w.total.reduce((a, b) => a + b, 0);
    const denied = w.denied.reduce((a, b) => a + b, 0);
    const rate = total > 0 ? denied / total : 0;
    if (!w.firing && total >= cfg.minRequests && rate >= cfg.above) {
      w.firing = true;
      const detail = { rule: event.rule, rate: Math.round(rate * 1000) / 1000, denied, total };
      this.#fire(
        { alert: "denials", ...detail, withinMs: cfg.withinMs, above: cfg.above },
        { key: episodeKey("denials", event.rule), holdMs: cfg.withinMs },
        nowMs,
        background,
      );
    } else if (w.firing && rate < cfg.above / 2) {
      w.firing = false;
    }
  }

  #store(event: DecisionEvent, nowMs: number, background: Background, forMs: number): void {
    if (!event.storeError) {
      if (event.limits.length > 0) {
        this.#degradedSince = undefined;
        this.#degradedFired = false;
      }
      return;
    }
    this.#degradedSince ??= nowMs;
    if (this.#degradedFired || nowMs - this.#degradedSince < forMs) return;
    this.#degradedFired = true;
    const detail = {
      store: event.store,
      sinceMs: nowMs - this.#degradedSince,
      error: event.storeError,
    };
    const episode = { key: episodeKey("store-degraded", event.store ?? ""), holdMs: forMs };
    this.#fire({ alert: "store-degraded", ...detail, forMs }, episode, nowMs, background);
  }

  #window(rule: string): Window {
    let w = this.#windows.get(rule);
    if (!w) {
      w = { starts: [], total: [], denied: [], firing: false };
      this.#windows.set(rule, w);
    }
    return w;
  }

  #fire(
    detail: Omit<Alert, "msg" | "at">,
    episode: { key: string; holdMs: number },
    nowMs: number,
    background: Background,
  ): void {
    const alert = { msg: "sluice.alert", at: new Date(nowMs).toISOString(), ...detail } as Alert;
    if (!this.#claims) {
      const delivery = this.#tell(alert);
      if (delivery) background(delivery);
      return;
    }
    const holdMs = Number.isFinite(episode.holdMs)
      ? Math.max(MIN_HOLD_MS, episode.holdMs)
      : MAX_QUOTA_HOLD_MS;
    background(
      withBudget(this.#claims.claimAlert(episode.key, holdMs, nowMs), CLAIM_BUDGET_MS)
        .catch(() => true)
        .then((first) => (first ? this.#tell(alert) : undefined)),
    );
  }

  /** Logs the alert; its webhook delivery, if any, to be awaited in the background. */
  #tell(alert: Alert): Promise<unknown> | undefined {
    this.#log(alert);
    return this.#webhook?.deliver(alert);
  }
}

/** An episode's name in the store: its kind and subject, unambiguous whatever the names hold. */
function episodeKey(...parts: string[]): string {
  return JSON.stringify(parts);
}
