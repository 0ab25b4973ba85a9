/** @module identity/types */

/** Who sent a request, as far as limits are concerned. Never holds a raw API key. */
export interface Identity {
  /** Normalised client address (IPv4 dotted, IPv6 canonical), or "" when none could be found. */
  ip: string;
  /** The limiting key for the address: IPv4 as is, IPv6 as its subnet (`2001:db8:1200::/56`). */
  ipKey: string;
  /** Hex SHA-256 of the API key, when one was sent. */
  apiKeyHash?: string;
  /** With issued keys: the key sent cannot be one (wrong prefix or length), so no store is asked. */
  apiKeyMalformed?: true;
  /** Tenant id, once keys are resolved to tenants. */
  tenant?: string;
}
