/** @module stores/durable-object/sql — statements within what SQLite in Durable Objects accepts. */

/**
 * Values one statement may bind: SQLite in Durable Objects allows 100
 * (Cloudflare's Durable Objects limits), far below SQLite's own 32,766.
 */
export const MAX_BOUND_VALUES = 100;

/**
 * `rows` in runs whose values fit one statement, each row binding
 * `valuesPerRow` of them.
 *
 * @example
 * [...statementChunks([[1, 2], [3, 4], [5, 6]], 40)]; // [[[1, 2], [3, 4]], [[5, 6]]]
 */
export function* statementChunks<T>(rows: readonly T[], valuesPerRow: number): Generator<T[]> {
  const per = Math.max(1, Math.floor(MAX_BOUND_VALUES / valuesPerRow));
  for (let at = 0; at < rows.length; at += per) yield rows.slice(at, at + per);
}
