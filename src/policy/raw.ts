/** @module policy/raw — the policy file as users write it: the one schema the reader's field lists and the JSON Schema come from. */

// Types only, no runtime cost. `npm run schema` turns them into
// src/sluice.policy.schema.json: JSDoc text becomes descriptions, and @default,
// @pattern, @minimum/@maximum and @asType integer become schema keywords. The
// reader in validate.ts, limits.ts and tenants.ts ties its field lists to these
// types with `keysOf`, so a field added here and not read there (or the
// reverse) fails to compile. Patterns and defaults copy the reader's;
// test/node/policy/schema.test.ts holds them equal.

/** A Sluice policy: how clients are identified and which limits apply to which requests. */
export interface RawPolicy {
  /**
   * The JSON Schema this file follows, for editors; ignored by Sluice.
   *
   * @example "./sluice.policy.schema.json"
   */
  $schema?: string;
  /**
   * Free-form label, reported in logs and /__sluice/health.
   *
   * @minLength 1
   * @default "0"
   */
  version?: string;
  /**
   * Store key prefix; changing it resets every counter.
   *
   * @pattern ^[a-z0-9_-]+$
   * @default "sluice"
   */
  prefix?: string;
  /** How clients are identified. */
  identity?: RawIdentity;
  /** Response headers. */
  headers?: RawHeaders;
  /** Decision logging. */
  log?: RawLog;
  /** The limit store. */
  store?: RawStore;
  /** The origin behind Sluice. */
  origin?: RawOrigin;
  /**
   * Named plans for issued keys, each a rate string. A plan's rates are named by their periods
   * ("1s", "1d"), so each rate of a plan needs its own period.
   *
   * @propertyNames { "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$" }
   * @example { "free": "5/s; 1000/day", "pro": "50/s burst 100; 100000/day" }
   */
  plans?: Record<string, RateText>;
  /**
   * Turns on issued keys: API keys must then be issued by the admin API, and limits may count by
   * tenant or take their rates from the tenant's plan. May be empty ({}).
   */
  tenants?: RawTenants;
  /**
   * Thresholds that raise one "sluice.alert" log line per episode (and, with
   * SLUICE_ALERT_WEBHOOK_URL, one signed POST). Absent: no alerts.
   */
  alerts?: RawAlerts;
  /**
   * Named lists of addresses and CIDR ranges, tenant ids and countries. A "deny" list refuses its
   * members with 403 before any rule; an "allow" list exempts them from every limit; a list
   * without "action" is a named set for rules' "exempt". The admin API adds entries at runtime.
   *
   * @propertyNames { "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$" }
   * @example { "blocked": { "action": "deny", "ips": ["198.51.100.0/24"] }, "office": { "ips": ["10.0.0.0/8"] } }
   */
  lists?: Record<string, RawList>;
  /**
   * Application-wide limits: every request counts against them, in the same store call as its
   * rule's limits, and so do requests no rule matches (decided under the rule name "*"). Their
   * default ids start with "app." ("app.ip-1m"); a "name" must differ from every rule's limit ids.
   */
  limits?: RawLimit[];
  /**
   * Evaluated in order; the first rule whose path and method match decides. A request no rule
   * matches is forwarded with no limit.
   *
   * @minItems 1
   */
  rules: RawRule[];
}

/** How clients are identified. */
export interface RawIdentity {
  /** Where the client address comes from. */
  ip?: RawIp;
  /** Where an API key comes from. */
  apiKey?: RawApiKey;
}

/** Where the client address comes from. */
export interface RawIp {
  /**
   * "cf-connecting-ip" is set by Cloudflare's edge and cannot be forged by the client;
   * "x-forwarded-for" trusts that header, read from the right: use it only behind your own proxy.
   *
   * @default "cf-connecting-ip"
   */
  source?: "cf-connecting-ip" | "x-forwarded-for";
  /**
   * With "x-forwarded-for": how many proxies on the right are yours; the entry this many places
   * from the right is the client.
   *
   * @asType integer
   * @minimum 1
   * @default 1
   */
  trustedHops?: number;
  /**
   * IPv6 clients are keyed by this prefix length (one customer site usually owns a /56).
   *
   * @asType integer
   * @minimum 1
   * @maximum 128
   * @default 56
   */
  ipv6Subnet?: number;
}

/** Where an API key comes from. */
export interface RawApiKey {
  /**
   * Header carrying the API key (case-insensitive).
   *
   * @pattern ^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$
   * @default "x-api-key"
   */
  header?: string;
  /**
   * Also accept "Authorization: Bearer <key>".
   *
   * @default true
   */
  bearer?: boolean;
}

/** Response headers. */
export interface RawHeaders {
  /**
   * Also send X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset.
   *
   * @default false
   */
  legacy?: boolean;
}

/** Decision logging. */
export interface RawLog {
  /**
   * Log plain "allowed" decisions too. Off, every other outcome is still logged: denials,
   * degraded decisions, refused keys, shadow denials.
   *
   * @default true
   */
  allowed?: boolean;
}

/** The limit store. */
export interface RawStore {
  /**
   * Time budget of one store call in milliseconds; past it the rule's onStoreError applies.
   *
   * @asType integer
   * @minimum 10
   * @maximum 5000
   * @default 250
   */
  timeoutMs?: number;
  /**
   * Durable Object store only: objects each rule's subjects are spread over (rules joined by
   * shared or application-wide limits count as one). 1 keeps a rule in one object (every
   * decision one operation there); more spread a hot rule, and a decision whose limits land in
   * several objects reserves its part in each. Changing it starts the Durable Object counters
   * afresh.
   *
   * @asType integer
   * @minimum 1
   * @maximum 64
   * @default 1
   */
  shards?: number;
}

/** The origin behind Sluice. */
export interface RawOrigin {
  /**
   * The origin must send its response headers within this many milliseconds, else 504.
   *
   * @asType integer
   * @minimum 100
   * @maximum 600000
   * @default 30000
   */
  timeoutMs?: number;
}

/** Issued keys: API keys issued to tenants by the admin API or the CLI. */
export interface RawTenants {
  /**
   * The origin gets the tenant id in this header; a client-sent copy is always removed.
   *
   * @pattern ^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$
   * @default "x-sluice-tenant"
   */
  header?: string;
  /**
   * How long an isolate trusts a resolved key: a revoked key is refused within this.
   *
   * @asType integer
   * @minimum 0
   * @maximum 30
   * @default 30
   */
  cacheTtlSeconds?: number;
  /**
   * When the store cannot be read, a key this isolate found valid no longer ago than this keeps
   * working; 0 turns this off.
   *
   * @asType integer
   * @minimum 0
   * @maximum 3600
   * @default 60
   */
  staleIfErrorSeconds?: number;
  /**
   * Unknown, revoked or expired key attempts admitted per address (IPv6: per subnet), as one rate.
   *
   * @default "10/min"
   */
  authFailures?: RateText;
  /**
   * Start of every issued key: lower-case words, each ending in "_".
   *
   * @pattern ^[a-z][a-z0-9]*_([a-z0-9]+_)?$
   * @default "sk_live_"
   */
  keyPrefix?: string;
  /**
   * Starts the directory's store keys; separate from prefix, so resetting counters never drops
   * issued keys.
   *
   * @pattern ^[a-z0-9_-]+$
   * @default "sluice-dir"
   */
  namespace?: string;
}

/** A named list; every field may be left out (entries can come from the admin API alone). */
export interface RawList {
  /**
   * "deny": members get 403 before any rule. "allow": members pass every limit (still forwarded,
   * logged as exempt). Absent: a named set, used only by rules' "exempt".
   */
  action?: "allow" | "deny";
  /** Client addresses and CIDR ranges, IPv4 or IPv6 ("203.0.113.0/24", "2001:db8::/32"). */
  ips?: CidrText[];
  /** Tenant ids; they match requests whose issued key resolves to that tenant (needs tenants). */
  tenants?: TenantIdText[];
  /** Countries as Cloudflare reports them in request.cf.country: ISO 3166-1 alpha-2, "T1" for Tor. */
  countries?: CountryText[];
}

/** Repeat offenders are banned for a while: refused with 429 until the ban ends. */
export interface RawBan {
  /**
   * Denials within "within" that start a ban.
   *
   * @asType integer
   * @minimum 1
   * @maximum 1000
   */
  after: number;
  /** The window the denials are counted in, like "1m". */
  within: PeriodText | PeriodMs;
  /** How long the first ban lasts, like "15m". */
  for: PeriodText | PeriodMs;
  /**
   * Each new ban within a day of the last one's end lasts this many times longer.
   *
   * @minimum 1
   * @maximum 100
   * @default 1
   */
  escalate?: number;
  /**
   * The longest a ban can get; at least "for".
   *
   * @default "24h"
   */
  max?: PeriodText | PeriodMs;
}

/** How this rule's refusals (its limits' 429s and its bans) are answered. */
export interface RawResponse {
  /**
   * 429 Too Many Requests (RFC 6585 §4) or 503 Service Unavailable (RFC 9110 §15.6.4); both
   * carry Retry-After.
   *
   * @default 429
   */
  status?: 429 | 503;
  /**
   * Extra response headers. Retry-After, the RateLimit fields and framing headers are Sluice's
   * and cannot be set here.
   *
   * @example { "x-reason": "rate-limited" }
   */
  headers?: Record<string, string>;
  /**
   * A JSON body instead of problem+json. Strings may hold "{rule}", "{limit}" (the refusing
   * limits' ids, "ban" for a ban), "{retryAfter}" (seconds) and "{tenant}"; a string that is
   * exactly "{retryAfter}" becomes a number.
   *
   * @example { "error": "slow down", "retry_in": "{retryAfter}" }
   */
  body?: Record<string, unknown>;
}

/** One rule: which requests it matches and the limits they must all pass. */
export interface RawRule {
  /**
   * Unique; part of store keys and logs.
   *
   * @pattern ^[a-z0-9][a-z0-9_-]*$
   */
  name: string;
  /** Which requests the rule takes. */
  match: RawMatch;
  /**
   * Every limit is enforced together: a request passes only if all admit it.
   *
   * @minItems 1
   */
  limits: RawLimit[];
  /**
   * The store is down or slow: "local" enforces the rule's limits in the isolate's memory
   * (per isolate, marked Sluice-Degraded: local), "allow" forwards the request unlimited
   * (marked Sluice-Degraded), "deny" answers 503.
   *
   * @default "local"
   */
  onStoreError?: "local" | "allow" | "deny";
  /**
   * "shadow" computes and logs decisions but never limits or adds headers.
   *
   * @default "enforce"
   */
  mode?: "enforce" | "shadow";
  /**
   * Denied requests consume too (brute-force protection: hammering keeps you locked out).
   *
   * @default false
   */
  countRejected?: boolean;
  /**
   * Count only admitted requests whose response status is listed (e.g. ["4xx"] on /login counts
   * failed logins only); the others get their cost back. Absent: every admitted request counts.
   *
   * @minItems 1
   */
  countStatus?: StatusText[];
  /**
   * "delay" holds a request over the limit until it is admissible, then forwards it, when that is
   * within maxDelay (only gcra and token-bucket limits can reserve a future slot); "reject"
   * refuses it with 429.
   *
   * @default "reject"
   */
  action?: "reject" | "delay";
  /**
   * With "action": "delay": the longest a request is held (1 s when absent); past it the request
   * is refused. A duration like "2s" or "500ms", or milliseconds; at most 60 s.
   */
  maxDelay?: string | number;
  /** At most `max` requests of a subject in flight at once, across isolates. */
  concurrency?: RawConcurrency;
  /**
   * Scale the rule's rates by a factor that follows the origin's health: down on errors, slow
   * responses or push-back, back up in small steps when it copes. `{}` turns it on with the
   * defaults.
   */
  adaptive?: RawAdaptive;
  /**
   * Lists whose members this rule does not limit (Flask-Limiter's exempt_when): an office range, a
   * partner tenant. Application-wide limits still apply to them.
   *
   * @example ["office"]
   */
  exempt?: ListName[];
  /** Ban subjects that keep being denied; the subject is what the rule's first limit counts by. */
  ban?: RawBan;
  /** How refusals of this rule are answered (status, extra headers, body). */
  response?: RawResponse;
  /**
   * Send RateLimit-Policy and RateLimit (and the legacy X-RateLimit-* fields) on this rule's
   * responses; false hides them (Flask-Limiter's headers_enabled). Retry-After is always sent.
   *
   * @default true
   */
  rateLimitHeaders?: boolean;
}

/** A rule's adaptive controller. Shares are fractions of the requests in a window. */
export interface RawAdaptive {
  /**
   * A response slower than this is slow (a duration like "500ms", or milliseconds; at most 10 min).
   *
   * @default "1s"
   */
  latency?: string | number;
  /**
   * The factor never goes below this.
   *
   * @exclusiveMinimum 0
   * @maximum 1
   * @default 0.1
   */
  min?: number;
  /**
   * Multiplier on overload.
   *
   * @exclusiveMinimum 0
   * @exclusiveMaximum 1
   * @default 0.95
   */
  decrease?: number;
  /**
   * Share of the full rate added back per healthy window.
   *
   * @exclusiveMinimum 0
   * @maximum 1
   * @default 0.02
   */
  increase?: number;
  /**
   * Least time reports are added up before the window is judged (at most 1 min).
   *
   * @default "500ms"
   */
  window?: string | number;
  /**
   * Least requests in a window before it is judged.
   *
   * @asType integer
   * @minimum 1
   * @maximum 1000000
   * @default 20
   */
  minRequests?: number;
  /**
   * Least time between two changes of the factor (at most 10 min).
   *
   * @default "1.5s"
   */
  hold?: string | number;
  /**
   * 5xx share below which the origin may be healthy.
   *
   * @minimum 0
   * @maximum 1
   * @default 0.01
   */
  errorLow?: number;
  /**
   * 5xx share above which the origin is overloaded.
   *
   * @minimum 0
   * @maximum 1
   * @default 0.05
   */
  errorHigh?: number;
  /**
   * Share of slow responses below which the origin may be healthy.
   *
   * @minimum 0
   * @maximum 1
   * @default 0.01
   */
  slowLow?: number;
  /**
   * Share of slow responses above which the origin is overloaded.
   *
   * @minimum 0
   * @maximum 1
   * @default 0.2
   */
  slowHigh?: number;
  /**
   * Longest pause an origin's 503 with Retry-After can impose (at most 1 day).
   *
   * @default "5m"
   */
  maxPause?: string | number;
}

/** A concurrency cap. */
export interface RawConcurrency {
  /**
   * Requests of one subject in flight at most; over it, 429 with Retry-After: 1 (or held, when the
   * rule delays).
   *
   * @asType integer
   * @minimum 1
   * @maximum 100000
   */
  max: number;
  /**
   * What the cap counts by, as a limit's "by".
   *
   * @default "ip"
   */
  by?: "ip" | "apiKey" | "tenant" | "global" | HeaderSubject;
}

/** Which requests a rule takes. */
export interface RawMatch {
  /**
   * "/login" exact; "/users/:id" one segment; "/api/*" /api and everything below it (not /apix);
   * "*" everything.
   *
   * @pattern ^(\*|/[^?#]*)$
   * @example "/api/*"
   */
  path: string;
  /**
   * HTTP methods, compared exactly (HEAD does not match GET). Absent: every method.
   *
   * @minItems 1
   * @example ["POST"]
   */
  methods?: MethodText[];
}

/** One limit of a rule. */
export interface RawLimit {
  /**
   * "plan" (the tenant's plan rates), a rate string like "10/s", "600/minute burst 50" or
   * "10/s; 1000/day" (one limit per rate), or an object { count, period, burst }.
   *
   * @example "10/s burst 20"
   */
  rate: "plan" | RateText | RawRateObject;
  /**
   * What the limit counts by: the client address, the API key, the key's tenant (needs tenants),
   * one bucket for everyone, or a request header.
   *
   * @default "ip"
   */
  by?: "ip" | "apiKey" | "tenant" | "global" | HeaderSubject;
  /**
   * The limiter algorithm.
   *
   * @default "gcra"
   */
  algorithm?: "gcra" | "token-bucket" | "fixed-window" | "sliding-window" | "sliding-log";
  /**
   * Most requests admitted at once from idle (the bucket's capacity). Only gcra and token-bucket
   * take a burst different from the count. Default: the rate's count.
   *
   * @asType integer
   * @minimum 1
   */
  burst?: number;
  /**
   * Units one request spends; must not exceed the burst (the count for windows and the log).
   *
   * @asType integer
   * @minimum 1
   * @default 1
   */
  cost?: number;
  /**
   * The limit's id (default "<by>-<period>", like "ip-1m"): names the RateLimit header item and
   * the store key. An RFC 9651 key.
   *
   * @pattern ^[a-z*][a-z0-9_.*-]*$
   */
  name?: string;
  /**
   * Limits with the same shared name count in one bucket across rules (Flask-Limiter's
   * shared_limit), still in the rule's one store call. They must state the same rate, burst,
   * algorithm and subject.
   *
   * @pattern ^[a-z0-9][a-z0-9_-]{0,63}$
   */
  shared?: string;
}

/** A rate as an object. */
export interface RawRateObject {
  /**
   * Requests (cost units) admitted per period.
   *
   * @asType integer
   * @minimum 1
   */
  count: number;
  /**
   * A period like "1s", "2 minutes" or "1d", or a number of milliseconds (at most 366 days).
   *
   * @example "1s"
   */
  period: PeriodText | PeriodMs;
  /**
   * Most requests admitted at once from idle; only gcra and token-bucket take one different from
   * the count.
   *
   * @asType integer
   * @minimum 1
   */
  burst?: number;
}

/**
 * Rate notation: "<count>/<period>" with an optional "burst <n>", several rates joined by ";".
 * Units: ms, s, sec, second(s), m, min, minute(s), h, hr, hour(s), d, day(s).
 *
 * @minLength 1
 * @example "10/s burst 20; 1000/h"
 */
export type RateText = string;

/**
 * A period: "<unit>", "<n><unit>" or "<n> <unit>", at most 366 days.
 *
 * @minLength 1
 */
export type PeriodText = string;

/**
 * A period in milliseconds, at most 366 days.
 *
 * @asType integer
 * @minimum 1
 * @maximum 31622400000
 */
export type PeriodMs = number;

/**
 * "header:<name>": counts by the value of that request header.
 *
 * @pattern ^header:[!#$%&'*+\-.^_`|~0-9A-Za-z]+$
 * @example "header:x-user-id"
 */
export type HeaderSubject = `header:${string}`;

/**
 * A status class like "4xx" or a status code like "401".
 *
 * @pattern ^[1-5]([xX]{2}|[0-9]{2})$
 */
export type StatusText = string;

/**
 * An IPv4 or IPv6 address, or a CIDR range with its host bits zero.
 *
 * @minLength 1
 * @example "203.0.113.0/24"
 */
export type CidrText = string;

/**
 * A tenant id.
 *
 * @pattern ^[a-z0-9][a-z0-9_-]{0,63}$
 */
export type TenantIdText = string;

/**
 * A country code: two letters (ISO 3166-1 alpha-2), or Cloudflare's "T1" (Tor).
 *
 * @pattern ^[A-Za-z][A-Za-z0-9]$
 */
export type CountryText = string;

/**
 * A list's name, as "lists" declares it.
 *
 * @pattern ^[a-z0-9][a-z0-9_-]{0,63}$
 */
export type ListName = string;

/**
 * An HTTP method token like "GET".
 *
 * @pattern ^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$
 */
export type MethodText = string;

/** Alert thresholds; each kind is off unless present. */
export interface RawAlerts {
  /** A tenant's use of one of its limits passes a share of the limit's capacity. */
  quota?: RawQuotaAlert;
  /** A rule's share of denied decisions passes a threshold. */
  denials?: RawDenialAlert;
  /** The store has failed for longer than a duration. */
  storeDegraded?: RawStoreAlert;
}

/** A tenant nearing a limit. */
export interface RawQuotaAlert {
  /**
   * Share of the limit's capacity used, above 0 and at most 1 (0.8: 80 % of a daily quota).
   *
   * @exclusiveMinimum 0
   * @maximum 1
   * @example 0.8
   */
  above: number;
}

/** A denial-rate spike on a rule. */
export interface RawDenialAlert {
  /**
   * Share of the rule's decisions that were denials, above 0 and at most 1.
   *
   * @exclusiveMinimum 0
   * @maximum 1
   * @example 0.5
   */
  above: number;
  /**
   * The window the share is measured over, at most 1h.
   *
   * @default "1m"
   */
  within?: string | number;
  /**
   * Decisions the window must hold before the share means anything.
   *
   * @asType integer
   * @minimum 1
   * @maximum 1000000
   * @default 20
   */
  minRequests?: number;
}

/** The store degraded for a while. */
export interface RawStoreAlert {
  /**
   * How long store calls must keep failing, at most 1h (e.g. "30s").
   *
   * @example "30s"
   */
  for: string | number;
}
