/** @module respond — response headers and problem details for the gateway. */
export {
  RATELIMIT_DRAFT,
  rateLimitHeaders,
  retryAfterSeconds,
} from "./headers.ts";
export {
  badGateway,
  gatewayTimeout,
  notFound,
  PROBLEM_BASE,
  type ProblemFields,
  ProblemType,
  policyInvalid,
  problem,
  SluiceHttpError,
  storeUnavailable,
  tooManyRequests,
  toResponse,
  unauthorized,
} from "./problem.ts";
