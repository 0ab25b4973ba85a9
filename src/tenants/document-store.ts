/** @module tenants/document-store — the small document store the directory needs, on Redis or a Durable Object. */

/** One write of an atomic batch. */
export type DocumentWrite =
  /** A precondition: the batch applies only if `key` holds `value` (null: is absent). */
  | { op: "expect"; key: string; value: string | null }
  | { op: "set"; key: string; value: string }
  | { op: "add"; set: string; member: string }
  /** Prepends to a list and keeps its newest `max` items. */
  | { op: "push"; list: string; value: string; max: number };

/**
 * Strings by key, sets of strings, and capped lists. Each method is one store
 * call; `write` applies its whole batch or nothing, and nothing (returning
 * false) when an `expect` does not hold: two admins editing one tenant cannot
 * silently undo each other's change.
 */
export interface DocumentStore {
  readonly kind: "redis" | "durable-object";
  get(keys: readonly string[]): Promise<(string | null)[]>;
  members(set: string): Promise<string[]>;
  /** The newest `count` items of a list, newest first. */
  recent(list: string, count: number): Promise<string[]>;
  write(ops: readonly DocumentWrite[]): Promise<boolean>;
}
