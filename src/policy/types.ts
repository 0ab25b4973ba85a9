/** @module policy/types — the validated, fully defaulted policy every stage reads. */
import type { AdaptiveConfig } from "../limiter/adaptive.ts";

/** Limiter algorithms known to the engine. */
export type Algorithm = "gcra" | "token-bucket" | "fixed-window" | "sliding-window" | "sliding-log";

/** What a limit counts requests by. */
export type Subject =
  | { kind: "ip" }
  | { kind: "apiKey" }
  | { kind: "tenant" } // the tenant the API key belongs to (needs `tenants`)
  | { kind: "global" }
  | { kind: "header"; name: string }; // lower-cased header name

/** One limit of a rule, with every default applied. */
export interface Limit {
  /** Stable id, an sf-key (`[a-z*][a-z0-9_.*-]*`): names the store key and the RateLimit item. */
  id: string;
  /** Requests (cost units) admitted per `periodMs` in the long run. */
  count: number;
  periodMs: number;
  /** Most cost units admitted at once from idle (bucket capacity). Defaults to `count`. */
  burst: number;
  /** Cost of one request in units. Defaults to 1; never larger than `burst`. */
  cost: number;
  algorithm: Algorithm;
  by: Subject;
  /**
   * `rate: "plan"`: the rates come from the tenant's plan (one check per plan
   * rate, id `<id>-<plan rate id>`); `count`, `periodMs` and `burst` are then 0.
   */
  fromPlan: boolean;
  /** Limits with the same shared name count in one bucket across rules; `null`: the rule's own. */
  shared: string | null;
}

/** A rate in integers: `count` units per `periodMs` in the long run, at most `burst` at once. */
export interface Rate {
  count: number;
  periodMs: number;
  burst: number;
}

/** One rate of a plan. `id` is its period (`"1s"`, `"1d"`), unique within the plan. */
export interface PlanRate extends Rate {
  id: string;
}

/** Per-tenant API keys: issued by the admin API, resolved on the hot path. */
export interface TenantsConfig {
  /**
   * The policy has a `tenants` section: API keys must be issued ones. Off, any API key is
   * accepted as is (limits count per key hash); the other fields still hold their defaults.
   */
  enabled: boolean;
  /**
   * Starts every directory key (tenants, keys, audit). Separate from `prefix`
   * on purpose: bumping `prefix` resets counters, never issued keys.
   */
  namespace: string;
  /** Header carrying the tenant id to the origin; a client-sent copy is always removed. */
  header: string;
  /** How long a resolved key is trusted per isolate: revocation takes effect within this (≤ 30 s). */
  cacheTtlMs: number;
  /**
   * When the store cannot be read, a key this isolate resolved no longer ago
   * than this keeps its last answer; other keys are refused with 503.
   */
  staleIfErrorMs: number;
  /** Unknown or revoked key attempts admitted per IP before it is locked out for a while. */
  authFailures: Rate;
  /** Start of every issued key, e.g. `sk_live_`. */
  keyPrefix: string;
}

export interface RuleMatch {
  /** Upper-case methods; `null` matches every method. */
  methods: string[] | null;
  /** Path pattern: exact (`/login`), prefix wildcard (`/api/*`, which also matches `/api`), `*` alone matches everything; `:name` matches one segment. See `compileMatcher`. */
  path: string;
}

export interface Rule {
  name: string;
  match: RuleMatch;
  limits: Limit[];
  /** Store down or slow: enforce in memory (`local`), forward unlimited (`allow`), or 503 (`deny`). */
  onStoreError: "local" | "allow" | "deny";
  mode: "enforce" | "shadow";
  /** Denied requests still consume (brute-force protection). */
  countRejected: boolean;
  /**
   * Only admitted requests whose response status matches count (`"4xx"`,
   * `"401"`); others get their cost refunded. `null`: every admitted request counts.
   */
  countStatus: string[] | null;
  /** `delay`: hold a request over the limit until admissible, if within `maxDelayMs`. */
  action: "reject" | "delay";
  /** With `delay`: the longest hold (0 otherwise). */
  maxDelayMs: number;
  /** At most `max` requests of a subject in flight; null: no cap. */
  concurrency: { max: number; by: Subject } | null;
  /** The adaptive controller's settings (see `limiter/adaptive.ts`); null: rates as written. */
  adaptive: AdaptiveConfig | null;
  /** Lists whose members this rule does not limit (application-wide limits still apply). */
  exempt: string[];
  /** Ban repeat offenders of this rule; `null`: no bans. */
  ban: BanPolicy | null;
  /** How this rule's refusals are answered. */
  response: RefusalSpec;
  /** Send the RateLimit fields (and legacy X-RateLimit-*) on this rule's responses. */
  rateLimitHeaders: boolean;
}

/** A rule's bans, in ms: after `after` denials within `withinMs`, banned `forMs`, × `escalate` per repeat, at most `maxMs`. */
export interface BanPolicy {
  after: number;
  withinMs: number;
  forMs: number;
  escalate: number;
  maxMs: number;
}

/** A rule's refusals: status, extra headers (lower-case names), and a JSON body with placeholders or `null` for problem+json. */
export interface RefusalSpec {
  status: 429 | 503;
  headers: Record<string, string>;
  body: Record<string, unknown> | null;
}

/** A named list from the policy (runtime entries come from the admin API). */
export interface ListSpec {
  /** `deny`: 403 before any rule; `allow`: exempt from every limit; `null`: a named set for `exempt`. */
  action: "allow" | "deny" | null;
  /** Canonical addresses and CIDR ranges (see `parseCidr`). */
  ips: string[];
  tenants: string[];
  /** Upper-case country codes. */
  countries: string[];
}

export interface IdentityConfig {
  ip: {
    source: "cf-connecting-ip" | "x-forwarded-for";
    /** With `x-forwarded-for`: how many proxies on the right are ours (≥ 1). */
    trustedHops: number;
    /** IPv6 addresses are keyed by this prefix length (default 56). */
    ipv6Subnet: number;
  };
  apiKey: {
    /** Lower-cased header carrying the key (default `x-api-key`). */
    header: string;
    /** Also accept `Authorization: Bearer <key>` (default true). */
    bearer: boolean;
  };
}

/** Alert thresholds (the policy's `alerts`); a kind left out is `null`. */
export interface AlertsConfig {
  /** A tenant's use of a limit passes `above` of its capacity. */
  quota: { above: number } | null;
  /** A rule's denied share of the decisions within `withinMs` passes `above`, over at least `minRequests`. */
  denials: { above: number; withinMs: number; minRequests: number } | null;
  /** Store calls have failed for `forMs`. */
  storeDegraded: { forMs: number } | null;
}

export interface Policy {
  /** Free-form version label from the policy file (default "0"). */
  version: string;
  /** Store key prefix; bumping it resets every counter (default "sluice"). */
  prefix: string;
  identity: IdentityConfig;
  rules: Rule[];
  /** Application-wide limits: decided with every request's rule, and alone for unmatched requests. */
  limits: Limit[];
  /** Named allow, deny and exemption lists. */
  lists: Record<string, ListSpec>;
  /** Named plans: their rates, for limits with `rate: "plan"`. */
  plans: Record<string, PlanRate[]>;
  /** Issued keys; `enabled` is false when the policy has no `tenants` section. */
  tenants: TenantsConfig;
  headers: {
    /** Also emit X-RateLimit-Limit/Remaining/Reset. */
    legacy: boolean;
  };
  log: {
    /**
     * Log plain `allowed` decisions too (default true). Off, every other
     * outcome is still logged: denials, degraded, refused keys, shadow denials.
     */
    allowed: boolean;
  };
  store: {
    /** Time budget of one store call (default 250). */
    timeoutMs: number;
    /** Durable Object store: objects each rule's subjects are spread over (default 1). */
    shards: number;
  };
  origin: {
    /** Origin response-header timeout → 504 (default 30000). */
    timeoutMs: number;
  };
  /** Alert thresholds; undefined without an `alerts` section (so older hashes stay the same). */
  alerts: AlertsConfig | undefined;
}

/** A policy that passed validation, with its content hash. */
export interface LoadedPolicy {
  policy: Policy;
  /** Hex SHA-256 of the canonical JSON of the defaulted policy. */
  hash: string;
}

/** One precise validation problem. */
export interface PolicyIssue {
  /** `ERR_SLUICE_…` for errors, `WARN_SLUICE_…` for warnings (see `ISSUE_CODES`, `WARNING_CODES` in validate.ts). */
  code: string;
  /** JSON path of the offending field, e.g. `rules[1].limits[0].rate`. */
  path: string;
  message: string;
}
