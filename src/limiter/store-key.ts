/** @module limiter/store-key — the one place the store key layout is built. */

/**
 * `<prefix>:<rule>:<limit-id>:<subject>`. The limit id leaves out the count,
 * so raising a limit keeps counters; bumping the prefix resets them all.
 *
 * @example
 * storeKey("sluice", "api", "ip-1m", "ip:203.0.113.7") // "sluice:api:ip-1m:ip:203.0.113.7"
 */
export function storeKey(prefix: string, rule: string, limitId: string, subject: string): string {
  return `${prefix}:${rule}:${limitId}:${subject}`;
}
