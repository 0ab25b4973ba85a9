/** @module policy/codes — every error and warning code the policy loader reports, one per kind of problem. */

/**
 * Every code `validatePolicy`/`loadPolicy` can report, one per kind of problem.
 *
 * @example
 * ISSUE_CODES.ERR_SLUICE_COST_EXCEEDS_BURST; // → "a limit's cost is larger than its burst"
 */
export const ISSUE_CODES = {
  ERR_SLUICE_POLICY_JSON: "the policy text is not valid JSON",
  ERR_SLUICE_TYPE: "a value has the wrong JSON type",
  ERR_SLUICE_UNKNOWN_FIELD: "a field the policy does not know (often a typo)",
  ERR_SLUICE_REQUIRED: "a required field is missing",
  ERR_SLUICE_EMPTY: "a string or list that must not be empty is empty",
  ERR_SLUICE_ENUM: "a value is not one of the allowed choices",
  ERR_SLUICE_RANGE: "a number is outside its allowed range",
  ERR_SLUICE_PREFIX_SYNTAX: "the store key prefix has characters other than a-z, 0-9, _ and -",
  ERR_SLUICE_HEADER_SYNTAX: "a header name is not a valid HTTP field name",
  ERR_SLUICE_TENANT_HEADER_RESERVED: "tenants.header names a field Sluice reads or writes itself",
  ERR_SLUICE_RULE_NAME_SYNTAX: "a rule name is not [a-z0-9][a-z0-9_-]*",
  ERR_SLUICE_STATUS_SYNTAX:
    'a countStatus entry is not a status class like "4xx" or a code like "401"',
  ERR_SLUICE_RULE_NAME_DUPLICATE: "two rules share a name",
  ERR_SLUICE_PATH_SYNTAX: "a path pattern is malformed",
  ERR_SLUICE_METHOD_SYNTAX: "a method is not a valid HTTP method token",
  ERR_SLUICE_METHOD_DUPLICATE: "a method is listed twice",
  ERR_SLUICE_RATE_SYNTAX: "a rate string is not <count>/<period> [burst <n>] [; …]",
  ERR_SLUICE_RATE_COUNT: "a rate's count is not a positive integer",
  ERR_SLUICE_RATE_PERIOD: "a rate's period is malformed, zero or longer than 366 days",
  ERR_SLUICE_RATE_UNIT: "a rate's period unit is unknown",
  ERR_SLUICE_RATE_BURST: "a rate's burst is missing, not a positive integer or given twice",
  ERR_SLUICE_BURST_CONFLICT: "a limit's burst is set where it cannot apply to exactly one rate",
  ERR_SLUICE_COST_EXCEEDS_BURST: "a limit's cost is larger than its burst",
  ERR_SLUICE_BURST_UNSUPPORTED:
    "a fixed-window, sliding-window or sliding-log limit has a burst different from its count",
  ERR_SLUICE_RATE_PRECISION:
    "a token-bucket's burst × period or a sliding-window's count × period exceeds 2^53",
  ERR_SLUICE_LIMIT_NAME_SYNTAX: "a limit id is not an RFC 9651 key",
  ERR_SLUICE_LIMIT_ID_DUPLICATE: "two limits of one rule have the same id",
  ERR_SLUICE_PLAN_NAME_SYNTAX: "a plan name is not 1–64 of a-z, 0-9, _ and -",
  ERR_SLUICE_PLAN_RATE_DUPLICATE: "two rates of one plan have the same period",
  ERR_SLUICE_PLANS_MISSING: 'a limit has rate "plan" but the policy has no plans',
  ERR_SLUICE_PLAN_SUBJECT:
    'a limit with rate "plan" counts by something other than tenant or apiKey',
  ERR_SLUICE_TENANTS_MISSING:
    'a limit needs issued keys (by "tenant" or rate "plan") but "tenants" is absent',
  ERR_SLUICE_DELAY_ALGORITHM:
    'a rule with "action": "delay" has a limit that cannot reserve a future slot (not gcra or token-bucket)',
  ERR_SLUICE_DELAY_WITHOUT_ACTION: 'a rule sets maxDelay without "action": "delay"',
  ERR_SLUICE_ADAPTIVE_BAND: "an adaptive rule's low share is above its high share",
  ERR_SLUICE_KEY_PREFIX_SYNTAX: 'the key prefix is not lower-case words ending in "_"',
  ERR_SLUICE_ALERT_FRACTION: "an alert's share is not above 0 and at most 1",
  ERR_SLUICE_ALERT_DURATION: "an alert's window or duration is longer than an hour",
  ERR_SLUICE_LIST_NAME_SYNTAX: "a list name is not 1–64 of a-z, 0-9, _ and -",
  ERR_SLUICE_LIST_UNKNOWN: 'a rule\'s "exempt" names a list the policy does not declare',
  ERR_SLUICE_CIDR_SYNTAX: "a list entry is not an IP address or a CIDR range with zero host bits",
  ERR_SLUICE_TENANT_ID_SYNTAX: "a list's tenant id is not 1–64 of a-z, 0-9, _ and -",
  ERR_SLUICE_COUNTRY_SYNTAX: "a list's country is not a two-character code",
  ERR_SLUICE_SHARED_NAME_SYNTAX: "a shared limit name is not 1–64 of a-z, 0-9, _ and -",
  ERR_SLUICE_SHARED_MISMATCH:
    "limits sharing a bucket state different rates, algorithms or subjects",
  ERR_SLUICE_BAN_MAX: 'a ban\'s "max" is shorter than its "for"',
  ERR_SLUICE_HEADER_RESERVED: "a response header is one Sluice sets itself",
  ERR_SLUICE_HEADER_VALUE:
    "a response header value is empty or has characters a field value cannot",
  ERR_SLUICE_APP_LIMIT_SUBJECT:
    "an application-wide limit counts by API key, tenant or plan, which not every request has",
  ERR_SLUICE_PLACEHOLDER: "a response body names a placeholder Sluice does not fill",
} as const;

/**
 * Every warning code, for settings that are legal but deserve a second look.
 *
 * @example
 * Object.keys(WARNING_CODES); // → ["WARN_SLUICE_XFF_TRUSTED", …]
 */
export const WARNING_CODES = {
  WARN_SLUICE_XFF_TRUSTED: "the client IP is taken from X-Forwarded-For",
  WARN_SLUICE_TRUSTED_HOPS_IGNORED: "trustedHops is set but the IP source is cf-connecting-ip",
  WARN_SLUICE_IPV6_SUBNET: "the IPv6 subnet is outside /32–/64",
  WARN_SLUICE_RULE_UNREACHABLE: "an earlier rule matches every request of this rule",
  WARN_SLUICE_SLIDING_LOG_SIZE: "a sliding-log limit's count makes its per-subject log large",
  WARN_SLUICE_EXEMPT_LIST_ACTION:
    "a rule exempts an allow or deny list, whose members never reach its limits anyway",
  WARN_SLUICE_BAN_APP_LIMIT:
    "a rule bans by one subject while an application-wide limit counts by another",
} as const;

/** A code from {@link ISSUE_CODES}. */
export type IssueCode = keyof typeof ISSUE_CODES;
/** A code from {@link WARNING_CODES}. */
export type WarningCode = keyof typeof WARNING_CODES;
