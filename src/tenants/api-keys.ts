/** @module tenants/api-keys — minting API keys: random secret, hash, id and display prefix. */
import { hashApiKey } from "../identity/secret.ts";
import { base64url } from "../util/encoding.ts";

/** Random bytes per key: 256 bits, far beyond guessing. */
const SECRET_BYTES = 32;
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
