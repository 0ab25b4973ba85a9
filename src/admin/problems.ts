/** @module admin/problems — the admin API's error responses (RFC 9457 problem details). */
import { PROBLEM_BASE, problem, SluiceHttpError } from "../respond/problem.ts";

/** 400 naming the offending field. */
export function badRequest(field: string, message: string): SluiceHttpError {
  const detail = field ? `${field}: ${message}` : message;
  return new SluiceHttpError(
    problem(400, { type: `${PROBLEM_BASE}admin-bad-request`, title: "Bad Request", detail, field }),
  );
}

/** 404 for an unknown tenant or key. */
export function missing(what: string): SluiceHttpError {
  return new SluiceHttpError(
    problem(404, {
      type: `${PROBLEM_BASE}admin-not-found`,
      title: "Not Found",
      detail: `${what} does not exist.`,
    }),
  );
}

/** 409 (RFC 9110 §15.5.10) when creating something that exists. */
export function conflict(detail: string): SluiceHttpError {
  return new SluiceHttpError(
    problem(409, { type: `${PROBLEM_BASE}admin-conflict`, title: "Conflict", detail }),
  );
}

/** 503 when the store behind the directory did not answer. */
export function unavailable(detail: string): SluiceHttpError {
  return new SluiceHttpError(
    problem(
      503,
      { type: `${PROBLEM_BASE}store-unavailable`, title: "Service Unavailable", detail },
      { "retry-after": "1" },
    ),
  );
}
