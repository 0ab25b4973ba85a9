/** @module tools/banner — what `npm run dev[:redis]` prints once everything listens: where, and the first commands to try. */

/** The local Redis side of `npm run dev:redis`. */
export interface RedisInfo {
  port: number;
  pid: number | undefined;
  restUrl: string;
  restToken: string;
}

export interface BannerInput {
  sluiceUrl: string;
  originUrl: string;
  store: string;
  adminToken: string;
  /** The policy the gateway will load (SLUICE_POLICY, else the bundled one), as parsed JSON. */
  policy: unknown;
  redis?: RedisInfo;
}

/**
 * The plan the README's first `keys create` uses, when the policy has
 * tenants and offers it; otherwise the policy's first plan. Undefined when
 * the policy issues no keys (no `tenants` section), so no keys line is printed.
 *
 * @example
 * demoPlan({ plans: { free: "5/s", pro: "50/s" }, tenants: {} }); // "free"
 */
export function demoPlan(policy: unknown): string | undefined {
  if (typeof policy !== "object" || policy === null) return undefined;
  const { tenants, plans } = policy as { tenants?: unknown; plans?: unknown };
  if (tenants === undefined || typeof plans !== "object" || plans === null) return undefined;
  const names = Object.keys(plans);
  return names.includes("free") ? "free" : names[0];
}

/**
 * The banner's lines. The admin token goes in an `export` line of its own,
 * as the README's CLI section advises, never on the `npx sluice` line.
 *
 * @example
 * console.log(banner({ sluiceUrl, originUrl, store: "Durable Object", adminToken, policy }));
 */
export function banner(input: BannerInput): string {
  const { sluiceUrl, redis } = input;
  const lines = [`Sluice: ${sluiceUrl}  →  origin ${input.originUrl}  (store: ${input.store})`];
  if (redis) {
    const pid = redis.pid === undefined ? "" : ` (pid ${redis.pid})`;
    lines.push(
      `  redis:    redis-server 127.0.0.1:${redis.port}${pid}, Upstash REST ${redis.restUrl}`,
      `  rest:     UPSTASH_REDIS_REST_URL=${redis.restUrl} UPSTASH_REDIS_REST_TOKEN=${redis.restToken}`,
      `  inspect:  redis-cli -p ${redis.port} keys '*'`,
      `  faults:   curl -X POST ${redis.restUrl}/__control/faults -d '{"latencyMs":200}'`,
    );
  }
  lines.push(
    `  try:      curl -i ${sluiceUrl}/hello`,
    `  admin:    export SLUICE_URL=${sluiceUrl} SLUICE_ADMIN_TOKEN=${input.adminToken}`,
  );
  const plan = demoPlan(input.policy);
  if (plan !== undefined) {
    lines.push(
      `  keys:     npx sluice keys create --tenant acme --plan ${plan}`,
      `            then: curl -i -H "x-api-key: <the key>" ${sluiceUrl}/api/hello`,
    );
  }
  lines.push("  usage:    npx sluice usage ip:127.0.0.1");
  return `\n${lines.join("\n")}\n`;
}
