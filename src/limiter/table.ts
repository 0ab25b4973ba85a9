/** @module limiter/table — the reference engine run over a table of key states (the Durable Object's SQLite, the memory store's map). */
import { evaluate, refundWrites, type Write } from "./model.ts";
import type { DecideRequest, Decision } from "./types.ts";

/** One key's stored state. `seen`: the latest caller time for the key. */
export type StateRow = {
  value: string;
  expiresAt: number;
  seen: number;
};

/**
 * Where states live. Calls are synchronous: a decision reads, evaluates and
 * writes with no await in between, so a single-threaded owner (a Durable
 * Object, an isolate) makes each decision atomic.
 */
export interface StateTable {
  read(key: string): StateRow | undefined;
  write(key: string, row: StateRow): void;
}

/**
 * Decides `req` against the table and commits its writes (all or none, as
 * `evaluate` says).
 *
 * @example
 * const decision = decideOnTable(table, { rule: "api", checks, nowMs: Date.now(), countRejected: false });
 */
export function decideOnTable(table: StateTable, req: DecideRequest): Decision {
  const { states, seen } = readStates(table, req);
  const { decision, writes } = evaluate(req.checks, states, req.nowMs, req.countRejected);
  writeStates(table, writes, seen, req.nowMs);
  return decision;
}

/** The decision `decideOnTable` would make now, writing nothing. */
export function peekOnTable(table: StateTable, req: DecideRequest): Decision {
  return evaluate(req.checks, readStates(table, req).states, req.nowMs, false, true).decision;
}

/** Gives each check's cost back (see `refundWrites`). */
export function refundOnTable(table: StateTable, req: DecideRequest): void {
  const { states, seen } = readStates(table, req);
  writeStates(table, refundWrites(req.checks, states, req.nowMs), seen, req.nowMs);
}

/**
 * Each check's live state, and the per-key time: never behind what the key has
 * seen. Lapse is judged on that timeline, as the model does, so a caller whose
 * clock is behind never writes an expiry that is already past for one whose
 * clock is ahead.
 */
function readStates(
  table: StateTable,
  req: DecideRequest,
): { states: (string | null)[]; seen: Map<string, number> } {
  const seen = new Map<string, number>();
  const states = req.checks.map((c) => {
    const row = table.read(c.key);
    const keyNow = Math.max(req.nowMs, row?.seen ?? 0);
    seen.set(c.key, keyNow);
    // Lapsed state means "idle", exactly as an expired Redis key does.
    return row && row.expiresAt > keyNow ? row.value : null;
  });
  return { states, seen };
}

function writeStates(
  table: StateTable,
  writes: readonly Write[],
  seen: ReadonlyMap<string, number>,
  nowMs: number,
): void {
  for (const w of writes) {
    const keyNow = seen.get(w.key) ?? nowMs;
    table.write(w.key, { value: w.value, expiresAt: keyNow + w.ttlMs, seen: keyNow });
  }
}
