/** @module identity — who sent a request: client address, its limiting key, and the hashed API key. */
import type { IdentityConfig } from "../policy/types.ts";
import { hasIssuedForm } from "../tenants/api-keys.ts";
import { headerKey } from "../util/header-name.ts";
import { clientIp, ipKey, normalizeIp } from "./ip.ts";
import { hashApiKey } from "./secret.ts";
import type { Identity } from "./types.ts";

/** Longest API key accepted; longer values are treated as no key (a cheap guard, keys are short). */
export const MAX_API_KEY_LENGTH = 512;

// Visible ASCII only (RFC 5234 VCHAR): no spaces, control characters or non-ASCII,
// so a key has exactly one spelling and cannot smuggle anything into logs.
const API_KEY = /^[\x21-\x7e]+$/;
// RFC 9110 §11.4: the auth-scheme is case-insensitive; RFC 6750 §2.1 names it "Bearer".
const BEARER = /^bearer[ \t]+(.*)$/i;

/**
 * Works out who sent `req`.
 *
 * - `ip` / `ipKey`: from `clientIp` and `ipKey`; both are `""` when no valid
 *   address was found. An empty identity must never silently skip a limit: the
 *   gateway decides (reject, or count all such requests under one shared key).
 * - `apiKeyHash`: SHA-256 hex of the key from `cfg.apiKey.header`, or else from
 *   `Authorization: Bearer <key>` when `cfg.apiKey.bearer`. The header wins when
 *   both are sent; empty values are ignored. A key longer than
 *   `MAX_API_KEY_LENGTH` or with anything but visible ASCII is treated as absent
 *   (no fallback to the other source), so `apiKeyHash` is then missing.
 *
 * `given` replaces either source (the middleware's `getIP` / `getKey` hooks):
 * a given address is still parsed strictly, a given key checked like a sent one.
 * With `issued` (the policy has issued keys), a key that cannot be one is
 * marked `apiKeyMalformed`.
 *
 * The raw key never leaves this function: only its hash is returned.
 *
 * @example
 * const id = await identify(
 *   new Request("https://api.example/x", { headers: { "cf-connecting-ip": "203.0.113.7", "x-api-key": "k1" } }),
 *   policy.identity,
 * );
 * // { ip: "203.0.113.7", ipKey: "203.0.113.7", apiKeyHash: "<64 hex chars>" }
 */
export async function identify(
  req: Request,
  cfg: IdentityConfig,
  given: { ip?: string | undefined; apiKey?: string | undefined } = {},
  issued?: { keyPrefix: string },
): Promise<Identity> {
  const ip = (given.ip !== undefined ? normalizeIp(given.ip) : clientIp(req.headers, cfg.ip)) ?? "";
  const identity: Identity = { ip, ipKey: ip === "" ? "" : (ipKey(ip, cfg.ip.ipv6Subnet) ?? "") };
  const key =
    given.apiKey !== undefined
      ? checkedKey(given.apiKey.trim())
      : readApiKey(req.headers, cfg.apiKey);
  if (key !== undefined) {
    identity.apiKeyHash = await hashApiKey(key);
    if (issued && !hasIssuedForm(key, issued.keyPrefix)) identity.apiKeyMalformed = true;
  }
  return identity;
}

/**
 * Names of the request headers that carry an issued key (a value starting
 * with `keyPrefix`): the configured header and `authorization` when it holds
 * such a bearer token, in every spelling a server might read as them (see
 * `headerKey`). With issued keys the gateway drops these before forwarding,
 * so the origin sees the tenant id and never the secret, while credentials
 * of its own (another bearer token, Basic) pass untouched.
 */
export function apiKeyCarriers(
  headers: Headers,
  cfg: IdentityConfig["apiKey"],
  keyPrefix: string,
): string[] {
  const keyHeader = cfg.header === "" ? undefined : headerKey(cfg.header);
  const carriers: string[] = [];
  for (const [name, value] of headers) {
    const key = headerKey(name);
    const secret =
      key === keyHeader ? value.trim() : key === "authorization" ? bearerToken(value) : undefined;
    if (secret?.startsWith(keyPrefix)) carriers.push(name);
  }
  return carriers;
}

function bearerToken(value: string): string | undefined {
  return BEARER.exec(value.trim())?.[1]?.trim();
}

/** The raw key, or undefined. Module-private so the raw key cannot leak through the API. */
function readApiKey(headers: Headers, cfg: IdentityConfig["apiKey"]): string | undefined {
  let candidate = cfg.header === "" ? "" : (headers.get(cfg.header)?.trim() ?? "");
  if (candidate === "" && cfg.bearer) {
    const match = BEARER.exec(headers.get("authorization")?.trim() ?? "");
    candidate = match?.[1]?.trim() ?? "";
  }
  return checkedKey(candidate);
}

/** A key with exactly one spelling, or undefined. */
function checkedKey(candidate: string): string | undefined {
  if (candidate === "" || candidate.length > MAX_API_KEY_LENGTH) return undefined;
  return API_KEY.test(candidate) ? candidate : undefined;
}
