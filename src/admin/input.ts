/** @module admin/input — reading and checking admin request bodies; every problem names its field. */
import { parseIp } from "../identity/ip.ts";
import { badRequest } from "../respond/problem.ts";

export type Json = Record<string, unknown>;

/** Throws a 400 unless `body` is an object with only `fields`. */
export function object(body: unknown, fields: readonly string[]): Json {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest("", "expected a JSON object body");
  }
  for (const key of Object.keys(body)) {
    if (!fields.includes(key)) {
      throw badRequest(key, `unknown field; expected one of: ${fields.join(", ")}`);
    }
  }
  return body as Json;
}

export function optionalString(body: Json, field: string, max: number): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "" || value.length > max) {
    throw badRequest(field, `expected a non-empty string of at most ${max} characters`);
  }
  return value;
}

export function requiredString(body: Json, field: string, max: number): string {
  const value = optionalString(body, field, max);
  if (value === undefined) throw badRequest(field, "is required");
  return value;
}

export function optionalBoolean(body: Json, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") throw badRequest(field, "expected true or false");
  return value;
}

/** An ISO 8601 instant after `nowMs`, normalised to `toISOString()`. */
export function optionalFutureTime(body: Json, field: string, nowMs: number): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw badRequest(field, 'expected an ISO 8601 time like "2026-12-01T00:00:00Z"');
  }
  if (ms <= nowMs) throw badRequest(field, "must be in the future");
  return new Date(ms).toISOString();
}

export type SubjectRef =
  | { kind: "tenant"; id: string }
  | { kind: "key"; id: string }
  | { kind: "ip"; address: string };

/**
 * `tenant:<id>`, `key:<16 hex>` or `ip:<address>`.
 *
 * @example
 * parseSubject("ip:203.0.113.7"); // → { kind: "ip", address: "203.0.113.7" }
 */
export function parseSubject(text: unknown, field = "subject"): SubjectRef {
  if (typeof text !== "string") {
    throw badRequest(field, 'expected "tenant:<id>", "key:<key id>" or "ip:<address>"');
  }
  const colon = text.indexOf(":");
  const kind = text.slice(0, colon);
  const value = text.slice(colon + 1);
  if (colon > 0 && kind === "tenant" && value !== "") return { kind, id: value };
  if (colon > 0 && kind === "key" && /^[0-9a-f]{16}$/.test(value)) return { kind, id: value };
  if (colon > 0 && kind === "ip" && parseIp(value)) return { kind, address: value };
  throw badRequest(
    field,
    `expected "tenant:<id>", "key:<16 hex digits>" or "ip:<address>", got ${JSON.stringify(text.slice(0, 80))}`,
  );
}
