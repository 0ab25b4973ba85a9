/** @module util/encoding — hex and base64url for bytes, and SHA-256 as hex: one home for each. */

const encoder = new TextEncoder();

/**
 * Lower-case hex of `bytes`.
 *
 * @example
 * toHex(new Uint8Array([0, 255])); // "00ff"
 */
export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Unpadded base64url (RFC 4648 §5) of `bytes`.
 *
 * @example
 * base64url(new Uint8Array([251, 255])); // "-_8"
 */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Lower-case hex SHA-256 of the UTF-8 bytes of `text`.
 *
 * @example
 * await sha256Hex("abc"); // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text))));
}
