/** @module observe/alerts — thresholds from the policy's `alerts` watched per isolate: one `sluice.alert` line (and webhook POST) per episode, never per request. */
import type { AlertsConfig } from "../policy/types.ts";
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

interface Window {
  /** Start of each slice's time, and its counts. */
  starts: number[];
  total: number[];
  denied: number[];
  firing: boolean;
}

/**
 * Watches decisions for the policy's thresholds. Episodes are per isolate:
 * an alert fires when its condition starts to hold, and fires again only
 * after the condition has cleared (a tenant's limit refilled below the share,
 * the denial rate fallen to half the threshold, the store answering again).
 *
 * @example
 * const alerts = new AlertWatch(policy.alerts, webhook, (a) => console.log(JSON.stringify(a)));
 */
export class AlertWatch implements EventListener {
  readonly #config: AlertsConfig;
  readonly #webhook: Webhook | undefined;
  readonly #log: (alert: Alert) => void;
  /** Tenant limits over the share now, until when (their reset). */
  readonly #quota = new BoundedMap<string, number>(10_000);
  readonly #windows = new Map<string, Window>();
  #degradedSince: number | undefined;
  #degradedFired = false;

  constructor(config: AlertsConfig, webhook: Webhook | undefined, log: (alert: Alert) => void) {
    this.#config = config;
    this.#webhook = webhook;
    this.#log = log;
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
    this.#fire({ alert: "quota", tenant, rule, limit, used, above }, nowMs, background);
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
    this.#fire({ alert: "store-degraded", ...detail, forMs }, nowMs, background);
  }

  #window(rule: string): Window {
    let w = this.#windows.get(rule);
    if (!w) {
      w = { starts: [], total: [], denied: [], firing: false };
      this.#windows.set(rule, w);
    }
    return w;
  }

  #fire(detail: Omit<Alert, "msg" | "at">, nowMs: number, background: Background): void {
    const alert = { msg: "sluice.alert", at: new Date(nowMs).toISOString(), ...detail } as Alert;
    this.#log(alert);
    if (this.#webhook) background(this.#webhook.deliver(alert));
  }
}
