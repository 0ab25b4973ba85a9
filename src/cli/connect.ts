/** @module cli/connect — where admin calls go (`--url`, path prefix kept) and whether the token may be sent there. */
import { BlockList, isIP } from "node:net";
import { AdminApi } from "./api.ts";
import { ADMIN_PATH, AdminClient } from "./client.ts";
import { CliError, UsageError } from "./errors.ts";

export const DEFAULT_URL = "http://127.0.0.1:8787";

export interface ConnectOptions {
  url?: string | undefined;
  token?: string | undefined;
  actor?: string | undefined;
  insecure?: boolean | undefined;
  env: Readonly<Record<string, string | undefined>>;
  fetch?: typeof fetch | undefined;
}

/**
 * The admin API of the gateway named by `--url` or `SLUICE_URL`, with the
 * token from `--token` or `SLUICE_ADMIN_TOKEN`.
 *
 * @example
 * const api = connect({ url: "https://api.example.com/edge", env: process.env });
 * // calls go to https://api.example.com/edge/__sluice/admin/…
 */
export function connect(options: ConnectOptions): AdminApi {
  const { env } = options;
  const base = adminBase(options.url ?? env.SLUICE_URL ?? DEFAULT_URL);
  const insecure =
    options.insecure || env.SLUICE_INSECURE === "1" || env.SLUICE_INSECURE === "true";
  if (base.protocol === "http:" && !isLoopback(base.hostname) && !insecure) {
    throw new UsageError(
      `refusing to send the admin token over plain http to ${base.host}, which is not this machine; use https://, or pass --insecure (or set SLUICE_INSECURE=1) on a network you trust`,
      { flag: "--url" },
    );
  }
  const token = options.token ?? env.SLUICE_ADMIN_TOKEN;
  if (!token) {
    throw new CliError("auth", "no admin token: set SLUICE_ADMIN_TOKEN (or pass --token)");
  }
  const actor = options.actor ?? env.USER ?? "cli";
  return new AdminApi(
    new AdminClient({ base, token, actor, ...(options.fetch ? { fetch: options.fetch } : {}) }),
  );
}

/**
 * The admin API's base URL under a gateway URL. A path is a prefix the
 * gateway is mounted under (behind a proxy), so it is kept.
 *
 * @example
 * adminBase("http://127.0.0.1:8787/edge").href; // → "http://127.0.0.1:8787/edge/__sluice/admin/"
 */
export function adminBase(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(text)} is not a URL like ${DEFAULT_URL}`, {
      flag: "--url",
    });
  }
  const refuse = (why: string) => new UsageError(`--url ${why}`, { flag: "--url" });
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw refuse(`must be http or https, got ${url.protocol}`);
  }
  if (url.username || url.password) throw refuse("must not carry a user or password");
  if (url.search || url.hash) throw refuse("must not carry a query or fragment");
  if (url.pathname.includes("/__sluice/")) {
    throw refuse(`names the gateway, not its admin API: drop the /__sluice/… part`);
  }
  const prefix = url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`;
  return new URL(`${prefix}${ADMIN_PATH}`, url);
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/**
 * Is `hostname` (as `URL` gives it: IPv6 in brackets) this machine? Only
 * literal loopback addresses and `localhost` count: a name could resolve anywhere.
 *
 * @example
 * isLoopback("127.0.0.1"); // → true
 * isLoopback("[::1]");     // → true
 * isLoopback("10.0.0.5");  // → false
 */
export function isLoopback(hostname: string): boolean {
  if (hostname === "localhost") return true;
  const address = hostname.replace(/^\[(.*)\]$/, "$1");
  const family = isIP(address);
  if (family === 4) return LOOPBACK.check(address, "ipv4");
  if (family === 6) return LOOPBACK.check(address, "ipv6");
  return false;
}
