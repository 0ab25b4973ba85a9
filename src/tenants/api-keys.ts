/** @module tenants/api-keys — minting API keys: random secret, hash, id and display prefix. */
import { hashApiKey } from "../identity/secret.ts";
import { base64url } from "../util/encoding.ts";

/** Random bytes per key: 256 bits, far beyond guessing. */
const SECRET_BYTES = 32;
/** Their unpadded base64url length. */
const SECRET_CHARS = Math.ceil((SECRET_BYTES * 4) / 3);
const SECRET = new RegExp(`^[A-Za-z0-9_-]{${SECRET_CHARS}}$`);
/** Random characters shown after the key prefix, enough to tell a tenant's keys apart. */
const DISPLAY_RANDOM_CHARS = 4;
const ID_HEX = 16;

export interface MintedKey {
  /** Shown once to the caller, never stored. */
  secret: string;
  hash: string;
  id: string;
  prefix: string;
}

/**
 * A new key: `prefix` + 43 base64url characters from `crypto.getRandomValues`.
 *
 * @example
 * const { secret, hash, id } = await mintKey("sk_live_"); // secret "sk_live_Xq3…", id "9f2c…" (16 hex)
 */
export async function mintKey(prefix: string): Promise<MintedKey> {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  const secret = prefix + base64url(bytes);
  const hash = await hashApiKey(secret);
  return {
    secret,
    hash,
    id: keyId(hash),
    prefix: secret.slice(0, prefix.length + DISPLAY_RANDOM_CHARS),
  };
}

/** The public name of a key: a prefix of its hash, which reveals nothing usable. */
export function keyId(hash: string): string {
  return hash.slice(0, ID_HEX);
}

/**
 * Could `key` have been issued under `prefix`? Every issued key is the prefix
 * and 43 base64url characters; anything else is refused without asking the
 * store (audit F17).
 *
 * @example
 * hasIssuedForm("sk_live_" + "A".repeat(43), "sk_live_"); // true
 * hasIssuedForm("x0", "sk_live_"); // false
 */
export function hasIssuedForm(key: string, prefix: string): boolean {
  return key.startsWith(prefix) && SECRET.test(key.slice(prefix.length));
}
