/** @module identity/secret — hashing and constant-time comparison of secrets (API keys, admin token). */

const encoder = new TextEncoder();

/**
 * Lower-case hex SHA-256 of the UTF-8 bytes of `text`.
 *
 * @example
 * await sha256Hex("abc"); // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

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

/**
 * Compares two strings in time that depends only on the longer length, never on
 * where they differ: every byte is visited and differences are OR-ed together,
 * with no early exit. A length mismatch still returns false, after the full loop.
 *
 * The length of the longer input is observable; when that matters (an admin
 * token), compare hashes instead with `secretEquals`. workerd also offers
 * `crypto.subtle.timingSafeEqual` for equal-length buffers; this helper stays
 * portable so unit tests run on Node.
 *
 * @example
 * timingSafeEqual("s3cret", "s3cret"); // true
 * timingSafeEqual("s3cret", "s3creT"); // false
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const length = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Constant-time equality of two secrets that also hides their lengths: both are
 * hashed with SHA-256 first, so the comparison always runs over 64 hex chars.
 *
 * @example
 * if (!(await secretEquals(presented, env.SLUICE_ADMIN_TOKEN))) throw new SluiceHttpError(unauthorized("Bad token."));
 */
export async function secretEquals(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([sha256Hex(a), sha256Hex(b)]);
  return timingSafeEqual(ha, hb);
}
