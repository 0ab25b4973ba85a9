/** @module limiter/table — the reference engine run over a table of key states (the Durable Object's SQLite, the memory store's map). */

import { adaptiveStep, scaledRequest } from "./adaptive.ts";
import { banIn, bannedDecision, banStrike } from "./ban.ts";
import { CONCURRENCY_RETRY_MS, type LeaseWrite, leaseAcquire, leaseRelease } from "./lease.ts";
import { evaluate, refundWrites, reserveAll, type StepView, stepAll, type Write } from "./model.ts";
import type {
  AdaptiveSpec,
  BanSpec,
  DecideRequest,
  Decision,
  LeaseSpec,
  LimitCheck,
} from "./types.ts";

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
  remove(key: string): void;
}

/**
 * Decides `req` against the table and commits its writes (all or none, as
 * `evaluate` says).
 *
 * @example
 * const decision = decideOnTable(table, { rule: "api", checks, nowMs: Date.now(), countRejected: false });
 */
export function decideOnTable(table: StateTable, req: DecideRequest): Decision {
  if (!req.adaptive) return decideLimits(table, req);
  const adaptive = adaptOnTable(table, req.adaptive, req.nowMs);
  return { ...decideLimits(table, scaledRequest(req, adaptive.factorPpm)), adaptive };
}

/**
 * Adds an isolate's health report to the rule's controller; the factor and
 * pause in force after it.
 */
export function adaptOnTable(
  table: StateTable,
  spec: AdaptiveSpec,
  nowMs: number,
): { factorPpm: number; pauseUntilMs: number } {
  const row = table.read(spec.key);
  const keyNow = Math.max(nowMs, row?.seen ?? 0);
  const raw = liveValue(table, spec.key, nowMs);
  const step = adaptiveStep(raw, nowMs, spec.config, spec.report);
  table.write(spec.key, { value: step.value, expiresAt: keyNow + step.ttlMs, seen: keyNow });
  return { factorPpm: step.factorPpm, pauseUntilMs: step.pauseUntilMs };
}

function decideLimits(table: StateTable, req: DecideRequest): Decision {
  const active = req.ban && banIn(liveValue(table, req.ban.key, req.nowMs), req.nowMs);
  if (active) return bannedDecision(active, req.nowMs);
  const { states, seen } = readStates(table, req);
  const delay = req.maxDelayMs ?? 0;
  const evaluated = evaluate(req.checks, states, req.nowMs, req.countRejected, false, delay);
  const { decision, writes } =
    req.lease && evaluated.decision.allowed
      ? withLease(table, req, req.lease, evaluated, states)
      : evaluated;
  writeStates(table, writes, seen, req.nowMs);
  return req.ban && !decision.allowed && !decision.concurrency
    ? strikeOnTable(table, req.ban, req.nowMs, decision)
    : decision;
}

/**
 * An admitted decision also takes a lease of its concurrency cap; when none
 * is free it is refused instead (`concurrency`), consuming nothing unless
 * denied requests count.
 */
function withLease(
  table: StateTable,
  req: DecideRequest,
  lease: LeaseSpec,
  admitted: { decision: Decision; writes: Write[] },
  states: ReadonlyArray<string | null>,
): { decision: Decision; writes: Write[] } {
  const taken = leaseAcquire(liveValue(table, lease.key, req.nowMs), req.nowMs, lease);
  if ("write" in taken) {
    writeLease(table, lease.key, req.nowMs, taken.write);
    return admitted;
  }
  const unconsumed = evaluate(req.checks, states, req.nowMs, false, true).decision;
  return {
    decision: {
      allowed: false,
      retryAfterMs: CONCURRENCY_RETRY_MS,
      limits: unconsumed.limits,
      concurrency: { max: lease.max, inFlight: taken.inFlight },
    },
    writes: req.countRejected ? admitted.writes : [],
  };
}

/** Takes a lease on its own (a decision spread over several places); undefined when taken. */
export function acquireOnTable(
  table: StateTable,
  lease: LeaseSpec,
  nowMs: number,
): { inFlight: number } | undefined {
  const taken = leaseAcquire(liveValue(table, lease.key, nowMs), nowMs, lease);
  if ("inFlight" in taken) return taken;
  writeLease(table, lease.key, nowMs, taken.write);
  return undefined;
}

/** Gives a lease back (a no-op when it is not held). */
export function releaseOnTable(
  table: StateTable,
  lease: { key: string; id: string; nowMs: number },
): void {
  const released = leaseRelease(liveValue(table, lease.key, lease.nowMs), lease.nowMs, lease.id);
  if (released) writeLease(table, lease.key, lease.nowMs, released);
}

function writeLease(table: StateTable, key: string, nowMs: number, w: LeaseWrite): void {
  const keyNow = Math.max(nowMs, table.read(key)?.seen ?? 0);
  table.write(key, { value: w.value, expiresAt: keyNow + w.ttlMs, seen: keyNow });
}

/**
 * Counts a denial against the subject's ban state; a ban it starts turns the
 * denial into a banned decision.
 */
export function strikeOnTable(
  table: StateTable,
  ban: BanSpec,
  nowMs: number,
  denial: Decision,
): Decision {
  const row = table.read(ban.key);
  const keyNow = Math.max(nowMs, row?.seen ?? 0);
  const strike = banStrike(liveValue(table, ban.key, nowMs), nowMs, ban);
  table.write(ban.key, { value: strike.value, expiresAt: keyNow + strike.ttlMs, seen: keyNow });
  return strike.started ? bannedDecision(strike.started, nowMs, denial) : denial;
}

/** A key's value unless it has lapsed on its own timeline (see `readStates`). */
function liveValue(table: StateTable, key: string, nowMs: number): string | null {
  const row = table.read(key);
  return row && row.expiresAt > Math.max(nowMs, row.seen) ? row.value : null;
}

/** The decision `decideOnTable` would make now, writing nothing. */
export function peekOnTable(table: StateTable, req: DecideRequest): Decision {
  return evaluate(req.checks, readStates(table, req).states, req.nowMs, false, true).decision;
}

/** Gives each check's cost back (see `refundWrites`). */
export function refundOnTable(table: StateTable, req: DecideRequest): void {
  const { states, seen } = readStates(table, req);
  const writes = refundWrites(req.checks, states, req.nowMs);
  writeStates(table, writes, seen, req.nowMs);
}

/** How to take back one write of a reservation: what the key held before, and what was written. */
export interface UndoEntry {
  key: string;
  previous: StateRow | null;
  written: string;
}

/** One place's part of a decision whose limits live in several places. */
export interface Reservation {
  steps: StepView[];
  /** The part was written: it admitted its checks, or denied requests count. */
  committed: boolean;
  undo: UndoEntry[];
  /** The subject was already banned (a part carrying the decision's ban): nothing was stepped. */
  banned?: { untilMs: number; level: number };
  /** The part admitted the request only after this wait (its cost reserved for then). */
  delayMs?: number;
}

/**
 * Steps this part's checks and, when they all admit (or `countRejected`),
 * commits them at once. The caller combines every part's steps with
 * `combine`; if the whole decision denies, it takes committed parts back
 * with `undoOnTable`. A part never admits more than its own limits allow,
 * so no interleaving can admit a request some limit would refuse.
 *
 * @example
 * const part = reserveOnTable(table, { rule, checks: theseChecks, nowMs, countRejected: false });
 */
export function reserveOnTable(table: StateTable, req: DecideRequest): Reservation {
  const banned = req.ban && banIn(liveValue(table, req.ban.key, req.nowMs), req.nowMs);
  if (banned) return { steps: [], committed: false, undo: [], banned };
  const { states, seen } = readStates(table, req);
  const steps = stepAll(req.checks, states, req.nowMs);
  const admitted = steps.every((s) => s.allowed);
  const maxDelayMs = req.maxDelayMs ?? 0;
  const delayed =
    admitted || maxDelayMs === 0
      ? undefined
      : reserveAll(req.checks, steps, states, req.nowMs, maxDelayMs);
  if (delayed) {
    const undo = remember(table, delayed.writes);
    writeStates(table, delayed.writes, seen, req.nowMs);
    const views = steps.map((s, i) => {
      const l = delayed.decision.limits[i];
      const consumed = { remaining: l?.remaining ?? 0, resetMs: l?.resetMs ?? 0, retryMs: 0 };
      return { ...s, allowed: true, consumed };
    });
    return { steps: views, committed: true, undo, delayMs: delayed.decision.delayMs ?? 0 };
  }
  const committed = req.countRejected || admitted;
  let undo: UndoEntry[] = [];
  if (committed) {
    const writes = steps.map((s, i) => ({
      key: (req.checks[i] as LimitCheck).key,
      value: s.consumed.value,
      ttlMs: s.consumed.ttlMs,
    }));
    undo = remember(table, writes);
    writeStates(table, writes, seen, req.nowMs);
  }
  return {
    steps: steps.map(({ consumed: { value: _v, ttlMs: _t, ...view }, ...step }) => ({
      ...step,
      consumed: view,
    })),
    committed,
    undo,
  };
}

/** What each write replaces, to take it back. */
function remember(table: StateTable, writes: readonly Write[]): UndoEntry[] {
  return writes.map((w) => ({ key: w.key, previous: table.read(w.key) ?? null, written: w.value }));
}

/** Steps this part's checks, writing nothing (a peek of a decision spread over several places). */
export function stepsOnTable(table: StateTable, req: DecideRequest): StepView[] {
  return stepAll(req.checks, readStates(table, req).states, req.nowMs);
}

/**
 * Takes a reservation back: a key nobody wrote since gets its previous state
 * exactly; one written meanwhile gets the check's cost refunded instead.
 */
export function undoOnTable(
  table: StateTable,
  checks: readonly LimitCheck[],
  nowMs: number,
  undo: readonly UndoEntry[],
): void {
  for (const entry of undo) {
    const current = table.read(entry.key);
    if (current?.value === entry.written) {
      if (entry.previous) table.write(entry.key, entry.previous);
      else table.remove(entry.key);
      continue;
    }
    const check = checks.find((c) => c.key === entry.key);
    if (!check) continue;
    refundOnTable(table, { rule: "", checks: [check], nowMs, countRejected: false });
  }
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
