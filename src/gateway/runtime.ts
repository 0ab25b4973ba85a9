/** @module gateway/runtime — env → validated policy, store and origin, built once per isolate. */
import { BlockedCache } from "../limiter/blocked-cache.ts";
import { DurableObjectStore, type SluiceStore } from "../stores/durable-object/limit-store.ts";
import { RedisStore } from "../stores/redis/limit-store.ts";
import type { LimitStore } from "../limiter/types.ts";
import { createUpstashClient } from "../stores/redis/client.ts";
import type { TenantServices } from "../middleware/rate-limit/index.ts";
import { logConfigError, logConfigWarnings } from "../observe/index.ts";
import { formatIssues, loadPolicy } from "../policy/load.ts";
import type { LoadedPolicy } from "../policy/types.ts";
import { Directory } from "../tenants/directory.ts";
import type { DocumentStore } from "../tenants/document-store.ts";
import { DurableObjectDocumentStore, type SluiceDirectory } from "../stores/durable-object/document-store.ts";
import { AuthFailureGuard } from "../tenants/guard.ts";
import { RedisDocumentStore } from "../stores/redis/document-store.ts";
import { KeyResolver } from "../tenants/resolver.ts";
import type { SluiceEnv } from "./env.ts";

/** Everything a request needs, derived from env. */
export interface Runtime {
  loaded: LoadedPolicy;
  store: LimitStore;
  origin: URL;
  /** Tenants, keys and the audit trail, in the same backend as the limits. */
  directory: Directory;
  /** Present when the policy has `tenants` (issued keys). */
  tenants: TenantServices | undefined;
}

/** A configuration that must not serve traffic: every request gets a 500 naming these. */
export interface ConfigFailure {
  errors: string[];
}

/**
 * Builds the runtime from env, or explains why it cannot. Invalid config is
 * never half-applied: the whole runtime is refused.
 *
 * @example
 * const rt = await buildRuntime(env, bundledPolicy);
 * if ("errors" in rt) return policyInvalid(rt.errors);
 */
export async function buildRuntime(
  env: SluiceEnv,
  bundled: unknown,
): Promise<Runtime | ConfigFailure> {
  const errors: string[] = [];
  const result = await loadPolicy(bundled, env.SLUICE_POLICY);
  if (!result.ok) errors.push(...formatIssues(result.issues).split("\n"));
  if (result.warnings.length > 0) logConfigWarnings(formatIssues(result.warnings).split("\n"));

  const origin = parseOrigin(env.ORIGIN_URL);
  if (typeof origin === "string") errors.push(origin);

  const url = env.UPSTASH_REDIS_REST_URL;
  const token = env.UPSTASH_REDIS_REST_TOKEN;
  if (Boolean(url) !== Boolean(token)) {
    errors.push(
      "ERR_SLUICE_REDIS_CONFIG: set both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or neither",
    );
  }
  if (errors.length > 0 || !result.ok || typeof origin === "string") {
    logConfigError(errors);
    return { errors };
  }

  const timeoutMs = result.loaded.policy.store.timeoutMs;
  const backing: LimitStore =
    url && token
      ? new RedisStore(createUpstashClient(url, token, timeoutMs), { timeoutMs })
      : new DurableObjectStore(env.SLUICE_STORE as unknown as DurableObjectNamespace<SluiceStore>, {
          timeoutMs,
        });
  // Per isolate: blocked subjects are answered without a store call.
  const store = new BlockedCache(backing);
  const docs: DocumentStore =
    url && token
      ? new RedisDocumentStore(createUpstashClient(url, token, timeoutMs, { raw: true }), { timeoutMs })
      : new DurableObjectDocumentStore(
          env.SLUICE_DIRECTORY as unknown as DurableObjectNamespace<SluiceDirectory>,
          { timeoutMs },
        );
  const policy = result.loaded.policy;
  const directory = new Directory(docs, policy.tenants?.namespace ?? "sluice-dir");
  const tenants = policy.tenants
    ? {
        resolver: new KeyResolver(directory, {
          ttlMs: policy.tenants.cacheTtlMs,
          staleIfErrorMs: policy.tenants.staleIfErrorMs,
        }),
        guard: new AuthFailureGuard(store, policy.prefix, policy.tenants.authFailures),
      }
    : undefined;
  return { loaded: result.loaded, store, origin, directory, tenants };
}

function parseOrigin(raw: string | undefined): URL | string {
  if (!raw) return "ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not set";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `ERR_SLUICE_ORIGIN_URL: ORIGIN_URL is not an absolute URL: ${JSON.stringify(raw)}`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `ERR_SLUICE_ORIGIN_URL: ORIGIN_URL must be http or https, got ${url.protocol}`;
  }
  if (url.search || url.hash) {
    return "ERR_SLUICE_ORIGIN_URL: ORIGIN_URL must not carry a query or fragment";
  }
  return url;
}
