/** @module observe/webhook — alerts POSTed to a webhook, signed with HMAC-SHA256, retried with backoff in the background. */
import { toHex } from "../util/encoding.ts";

/** The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = "Sluice-Signature";

export interface WebhookOptions {
  /** Attempts in all (the first and its retries). */
  attempts: number;
  /** Wait before the first retry; doubled before each next one. */
  backoffMs: number;
  /** Deliveries in progress at most; past it an alert is dropped (and counted). */
  maxInFlight: number;
}

const DEFAULTS: WebhookOptions = { attempts: 4, backoffMs: 1000, maxInFlight: 16 };

/**
 * Delivers alerts as signed JSON POSTs. A delivery is retried after a
 * network error, a 429 or a 5xx, waiting `backoffMs`, then twice that, and
 * so on (1 + 2 + 4 s by default, within Workers' 30 s of `waitUntil`); any
 * other answer ends it. Receivers check the signature as README
 * "Alerts" shows, and reject a `t` older than a few minutes (replays).
 *
 * @example
 * const hook = new Webhook(new URL(env.SLUICE_ALERT_WEBHOOK_URL), env.SLUICE_ALERT_WEBHOOK_SECRET);
 * ctx.waitUntil(hook.deliver({ msg: "sluice.alert", alert: "quota" }));
 */
export class Webhook {
  readonly #url: URL;
  readonly #key: Promise<CryptoKey>;
  readonly #options: WebhookOptions;
  readonly #now: () => number;
  #inFlight = 0;
  dropped = 0;

  constructor(
    url: URL,
    secret: string,
    options: Partial<WebhookOptions> = {},
    now: () => number = Date.now,
  ) {
    this.#url = url;
    this.#options = { ...DEFAULTS, ...options };
    this.#now = now;
    this.#key = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
  }

  /** Sends `alert`; resolves true once the receiver took it (2xx), false when it gave up. */
  async deliver(alert: object): Promise<boolean> {
    if (this.#inFlight >= this.#options.maxInFlight) {
      this.dropped++;
      return false;
    }
    this.#inFlight++;
    try {
      const body = JSON.stringify(alert);
      let wait = this.#options.backoffMs;
      for (let attempt = 1; attempt <= this.#options.attempts; attempt++) {
        const status = await this.#post(body);
        if (status >= 200 && status < 300) return true;
        if (status !== 0 && status !== 429 && status < 500) return false;
        if (attempt < this.#options.attempts) {
          await new Promise((r) => setTimeout(r, wait));
          wait *= 2;
        }
      }
      return false;
    } finally {
      this.#inFlight--;
    }
  }

  /** One attempt: its status, or 0 when there was no answer. Signed afresh, so `t` is the send time. */
  async #post(body: string): Promise<number> {
    const t = Math.floor(this.#now() / 1000);
    const signature = await signPayload(await this.#key, t, body);
    try {
      const res = await fetch(this.#url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [SIGNATURE_HEADER]: `t=${t},v1=${signature}`,
        },
        body,
      });
      await res.body?.cancel();
      return res.status;
    } catch {
      return 0;
    }
  }
}

/**
 * Hex HMAC-SHA256 (RFC 2104, FIPS 180-4) of `"<t>.<body>"`: binding the
 * time into the MAC lets a receiver refuse replays of an old alert.
 *
 * @example
 * await signPayload(key, 1780000000, '{"msg":"sluice.alert"}'); // "5d1f…" (64 hex digits)
 */
export async function signPayload(key: CryptoKey, t: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${t}.${body}`));
  return toHex(new Uint8Array(mac));
}
