/** @module identity/secret — API keys are hashed before they touch a store key, a log line or a metric. */
import { BoundedMap } from "../util/bounded-map.ts";
import { sha256Hex } from "../util/encoding.ts";

/** Recently seen keys' hashes, per isolate: a client's next request skips the digest. */
const recent = new BoundedMap<string, Promise<string>>(10_000);

/**
 * Hashes an API key for use in store keys, logs and metrics, so the raw key is
 * never stored or printed. Unsalted on purpose: the same key must map to the
 * same counter in every isolate. Remembered per isolate (in memory only,
 * never written anywhere), so a known key costs no digest.
 *
 * @example
 * const hash = await hashApiKey("sk_live_123"); // 64 lower-case hex chars
 */
export function hashApiKey(key: string): Promise<string> {
  let hash = recent.get(key);
  if (!hash) {
    hash = sha256Hex(key);
    recent.set(key, hash);
  }
  return hash;
}
