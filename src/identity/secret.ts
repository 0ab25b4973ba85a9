/** @module identity/secret — API keys are hashed before they touch a store key, a log line or a metric. */
import { sha256Hex } from "../util/encoding.ts";

/**
 * Hashes an API key for use in store keys, logs and metrics, so the raw key is
 * never stored or printed. Unsalted on purpose: the same key must map to the
 * same counter in every isolate.
 *
 * @example
 * const hash = await hashApiKey("sk_live_123"); // 64 lower-case hex chars
 */
export function hashApiKey(key: string): Promise<string> {
  return sha256Hex(key);
}
