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

/**
 * The subject part of a key `storeKey` built (subjects may hold ":", the fields before never do).
 *
 * @example
 * keySubject("sluice:api:ip-1m:ip:2001:db8::/56") // "ip:2001:db8::/56"
 */
export function keySubject(key: string): string {
  let at = -1;
  for (let i = 0; i < 3; i++) at = key.indexOf(":", at + 1);
  return at === -1 ? "" : key.slice(at + 1);
}
