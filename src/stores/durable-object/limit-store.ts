/** @module stores/durable-object/limit-store — the embedded store: limits in Durable Objects sharded by subject, decisions group-committed per object. */
import { DurableObject } from "cloudflare:workers";
import { scaledRequest } from "../../limiter/adaptive.ts";
import { BAN_KEY_PART, bannedDecision, bansAmong } from "../../limiter/ban.ts";
import { CONCURRENCY_RETRY_MS } from "../../limiter/lease.ts";
import { combine, type StepView } from "../../limiter/model.ts";
import {
  acquireOnTable,
  adaptOnTable,
  decideOnTable,
  peekOnTable,
  type Reservation,
  refundOnTable,
  releaseOnTable,
  reserveOnTable,
  type StateRow,
  type StateTable,
  stepsOnTable,
  strikeOnTable,
  type UndoEntry,
  undoOnTable,
} from "../../limiter/table.ts";
import {
  type AdaptiveSpec,
  type BanEntry,
  type BanSpec,
  type DecideRequest,
  type Decision,
  type LeaseSpec,
  type LimitCheck,
  type LimitStore,
  StoreError,
} from "../../limiter/types.ts";
import { BoundedMap } from "../../util/bounded-map.ts";
import { GROUP_COMMIT_DEFAULTS, GroupCommit, type GroupCommitOptions } from "../group-commit.ts";
import { objectFor, type Placement } from "./placement.ts";
import { statementChunks } from "./sql.ts";
import { budgetedCall, type ObjectCall } from "./stub.ts";

/** How often an object deletes lapsed state. */
const SWEEP_EVERY_MS = 60_000;
/** Rows an object keeps in memory at most; the rest are read from SQLite when asked. */
const MAX_CACHED_ROWS = 50_000;

/** A decision as it travels to an object: plain data, no callbacks. */
type Plain = Omit<DecideRequest, "waitUntil">;

/** One operation of a batch sent to one object. */
export type ShardOp =
  | { op: "decide" | "peek" | "refund"; req: Plain }
  /** This object's part of a decision spread over several objects. */
  | { op: "reserve" | "steps"; req: Plain }
  | { op: "undo"; checks: LimitCheck[]; nowMs: number; undo: UndoEntry[] }
  /** Counts the denial of a decision spread over several objects against its ban. */
  | { op: "strike"; ban: BanSpec; nowMs: number; denial: Decision }
  /** Takes the lease of a decision spread over several objects, once its parts admitted it. */
  | { op: "acquire"; lease: LeaseSpec; nowMs: number }
  | { op: "release"; key: string; id: string; nowMs: number }
  /** Reports to the rule's adaptive controller, for a decision spread over several objects. */
  | { op: "adapt"; spec: AdaptiveSpec; nowMs: number };

/** A batch the object could not run; nothing of it was kept. */
export interface BatchFailure {
  failed: string;
}

export type ShardResult =
  | Decision
  | Reservation
  | StepView[]
  | { inFlight: number }
  | { factorPpm: number; pauseUntilMs: number }
  | null;

/**
 * Holds the limit state of the subjects routed to it, in its SQLite
 * storage, and runs the reference model on it. A batch runs its operations
 * in order with no await between read and write, so the object's single
 * thread makes each one atomic.
 */
export class SluiceStore extends DurableObject {
  #latestNowMs = 0;
  /** A sweep alarm is known to be set (so batches do not ask storage each time). */
  #sweepSet = false;
  /** RPCs and operations served since the object started (memory only; for benchmarks). */
  #calls = 0;
  #operations = 0;
  /**
   * Rows as the object last read or wrote them: it is their only writer, so
   * memory answers reads; SQLite keeps them across evictions. `null`: no row.
   */
  readonly #rows = new BoundedMap<string, StateRow | null>(MAX_CACHED_ROWS);
  /** Rows written by the batch being run, flushed to SQLite once at its end. */
  readonly #dirty = new Set<string>();

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    // `seen`: the latest caller time for the key (see limiter/table.ts).
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS limit_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL, seen INTEGER NOT NULL)",
    );
  }

  /** The rows as the engine's state table. */
  readonly #table: StateTable = {
    read: (key) => {
      const cached = this.#rows.get(key);
      if (cached !== undefined) return cached ?? undefined;
      const row = this.ctx.storage.sql
        .exec<StateRow>(
          "SELECT value, expires_at AS expiresAt, seen FROM limit_state WHERE key = ?",
          key,
        )
        .toArray()[0];
      this.#rows.set(key, row ?? null);
      return row;
    },
    write: (key, row) => {
      this.#rows.set(key, row);
      this.#dirty.add(key);
    },
    remove: (key) => {
      this.#rows.set(key, null);
      this.#dirty.add(key);
    },
  };

  /**
   * Writes the batch's rows: the upserts, then the deletions, as few
   * statements as the bound-value limit allows (a statement past it fails,
   * and with it the whole batch).
   */
  #flush(): void {
    if (this.#dirty.size === 0) return;
    const upserts: [string, string, number, number][] = [];
    const deletions: string[] = [];
    for (const key of this.#dirty) {
      const row = this.#rows.get(key);
      if (row) upserts.push([key, row.value, row.expiresAt, row.seen]);
      else deletions.push(key);
    }
    const sql = this.ctx.storage.sql;
    for (const chunk of statementChunks(upserts, 4)) {
      const rows = chunk.map(() => "(?, ?, ?, ?)").join(", ");
      sql.exec(
        `INSERT INTO limit_state (key, value, expires_at, seen) VALUES ${rows} ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, seen = excluded.seen`,
        ...chunk.flat(),
      );
    }
    for (const chunk of statementChunks(deletions, 1)) {
      sql.exec(
        `DELETE FROM limit_state WHERE key IN (${chunk.map(() => "?").join(", ")})`,
        ...chunk,
      );
    }
  }

  /**
   * Runs a batch in order: each operation sees the writes of those before it.
   * A batch that fails is answered as such, not thrown: none of it stands,
   * and its callers fall back as they do for any store failure.
   */
  run(ops: readonly ShardOp[]): ShardResult[] | BatchFailure {
    this.#calls++;
    this.#operations += ops.length;
    try {
      return this.#atomically(() => ops.map((op) => this.#one(op)));
    } catch (err) {
      return { failed: err instanceof Error ? err.message : String(err) };
    }
  }

  /**
   * Runs `work` and writes its rows in one SQLite transaction. A batch that
   * throws leaves nothing behind, in SQLite or in memory: its callers hear
   * an error, so none of its decisions may count.
   */
  #atomically<T>(work: () => T): T {
    const latestNowMs = this.#latestNowMs;
    let out: T;
    try {
      out = this.ctx.storage.transactionSync(() => {
        const result = work();
        this.#flush();
        return result;
      });
    } catch (err) {
      for (const key of this.#dirty) this.#rows.delete(key);
      this.#dirty.clear();
      this.#latestNowMs = latestNowMs;
      throw err;
    }
    if (this.#dirty.size > 0) void this.#scheduleSweep();
    this.#dirty.clear();
    return out;
  }

  #one(op: ShardOp): ShardResult {
    if (op.op === "undo") {
      undoOnTable(this.#table, op.checks, op.nowMs, op.undo);
      return null;
    }
    if (op.op === "strike") return strikeOnTable(this.#table, op.ban, op.nowMs, op.denial);
    if (op.op === "release") {
      releaseOnTable(this.#table, op);
      return null;
    }
    if (op.op === "acquire") return acquireOnTable(this.#table, op.lease, op.nowMs) ?? null;
    if (op.op === "adapt") return adaptOnTable(this.#table, op.spec, op.nowMs);
    this.#latestNowMs = Math.max(this.#latestNowMs, op.req.nowMs);
    switch (op.op) {
      case "decide":
        return decideOnTable(this.#table, op.req);
      case "peek":
        return peekOnTable(this.#table, op.req);
      case "refund":
        refundOnTable(this.#table, op.req);
        return null;
      case "reserve":
        return reserveOnTable(this.#table, op.req);
      case "steps":
        return stepsOnTable(this.#table, op.req);
    }
  }

  reset(keys: readonly string[]): void {
    this.#calls++;
    this.#atomically(() => {
      for (const key of keys) this.#table.remove(key);
    });
  }

  /** The bans in force among this object's keys under `prefix`. */
  bans(prefix: string, nowMs: number): BanEntry[] {
    const rows = this.ctx.storage.sql
      .exec<{ key: string; value: string }>(
        "SELECT key, value FROM limit_state WHERE substr(key, 1, ?) = ? AND instr(key, ?) > 0",
        prefix.length,
        prefix,
        BAN_KEY_PART,
      )
      .toArray()
      .map((r) => [r.key, this.#rows.get(r.key)?.value ?? r.value] as const);
    return bansAmong(rows, prefix, nowMs);
  }

  /** Calls served and the decisions they carried, since this object started. */
  stats(): { calls: number; decisions: number } {
    return { calls: this.#calls, decisions: this.#operations };
  }

  ping(): string {
    return "PONG";
  }

  /** Stored keys under `prefix` that have not lapsed by `nowMs` (for tests and health). */
  liveKeys(nowMs: number, prefix = ""): number {
    const row = this.ctx.storage.sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM limit_state WHERE expires_at > ? AND substr(key, 1, ?) = ?",
        nowMs,
        prefix.length,
        prefix,
      )
      .one();
    return row.n;
  }

  override async alarm(): Promise<void> {
    // Callers' clocks, not this machine's, define lapse (tests inject time).
    this.ctx.storage.sql.exec("DELETE FROM limit_state WHERE expires_at <= ?", this.#latestNowMs);
    for (const [key, row] of this.#rows) {
      if (!row || row.expiresAt <= this.#latestNowMs) this.#rows.delete(key);
    }
    const left = this.ctx.storage.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM limit_state")
      .one();
    this.#sweepSet = left.n > 0;
    if (left.n > 0) await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  async #scheduleSweep(): Promise<void> {
    if (this.#sweepSet) return;
    this.#sweepSet = true;
    if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
    }
  }
}

export interface DurableObjectStoreOptions {
  /** Time budget of one decision, waiting for its batch included. */
  timeoutMs: number;
  /** Objects each rule's subjects are spread over (default 1: one object per rule). */
  shards?: number;
  /** Rules that share keys, put in one object (`placementOf`); default: each rule its own. */
  placement?: Placement;
  /** Batching knobs per object (defaults: `GROUP_COMMIT_DEFAULTS`). */
  groupCommit?: Partial<Omit<GroupCommitOptions, "timeoutMs">>;
}

/**
 * `LimitStore` over the `SluiceStore` namespace. Each key lives in its rule's
 * object, or its group's when the rule shares keys with others (`placement`:
 * shared and application-wide limits), or with `shards` in one of those
 * objects picked by subject (`objectFor`), so a hot rule's subjects spread.
 * Calls to each object are group-committed: one RPC carries every decision
 * that waited for it.
 *
 * A decision whose limits all live in one object is one operation there,
 * atomic as always: with `placement` and one shard, every decision. One
 * spread over several objects reserves its part in
 * each (in parallel; a part commits only what its own limits admit), and if
 * the whole decision denies, the committed parts are taken back before it
 * answers. No request is ever admitted that a limit would refuse; between a
 * reservation and its undo, a concurrent request may find the reserved
 * units spent (refused early, never admitted late). The Redis store has no
 * such window: one script holds every key.
 *
 * @example
 * const store = new DurableObjectStore(env.SLUICE_STORE, { timeoutMs: 250, placement: placementOf([policy]) });
 */
export class DurableObjectStore implements LimitStore {
  readonly kind = "durable-object";
  readonly #ns: DurableObjectNamespace<SluiceStore>;
  /** Admin and probe calls: one budgeted RPC each, outside the decision lanes. */
  readonly #call: ObjectCall<SluiceStore>;
  readonly #options: DurableObjectStoreOptions;
  readonly #shards: number;
  readonly #placement: Placement;
  readonly #lanes = new Map<string, GroupCommit<ShardOp, ShardResult>>();
  /** Object ids by name: a name's id never changes, a stub is made per call. */

  constructor(ns: DurableObjectNamespace<SluiceStore>, options: DurableObjectStoreOptions) {
    this.#ns = ns;
    this.#options = options;
    this.#call = budgetedCall(ns, options.timeoutMs);
    this.#shards = options.shards ?? 1;
    this.#placement = options.placement ?? new Map();
  }

  /** RPCs made so far, over all objects (for tests and metrics). */
  get calls(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.calls;
    return n;
  }

  async decide(req: DecideRequest): Promise<Decision> {
    const parts = this.#split(req);
    const lone = parts.length === 1 ? (parts[0] as Part) : undefined;
    if (lone && (!req.adaptive || this.#holdsAdaptive(lone, req))) {
      return (await this.#run(lone, "decide", req)) as Decision;
    }
    if (!req.adaptive) return this.#decideParts(req, parts);
    // The controller lives in another object: its factor first, then the
    // limits scaled by it (one more call, only with \`shards\`).
    const adaptive = await this.#adapt(req, req.adaptive);
    const scaled = scaledRequest(req, adaptive.factorPpm);
    return { ...(await this.#decideParts(scaled, this.#split(scaled))), adaptive };
  }

  async #decideParts(req: DecideRequest, parts: readonly Part[]): Promise<Decision> {
    if (parts.length === 1) return (await this.#run(parts[0] as Part, "decide", req)) as Decision;
    const reserved = (await Promise.all(
      parts.map((p) => this.#run(p, "reserve", req)),
    )) as Reservation[];
    return this.#combineParts(req, parts, reserved);
  }

  #holdsAdaptive(part: Part, req: DecideRequest): boolean {
    return !!req.adaptive && part.name === this.#shardOf(req.adaptive.key);
  }

  #adapt(req: DecideRequest, spec: AdaptiveSpec) {
    const op: ShardOp = { op: "adapt", spec, nowMs: req.nowMs };
    return this.#lane(this.#shardOf(spec.key)).run(op, req.waitUntil) as Promise<{
      factorPpm: number;
      pauseUntilMs: number;
    }>;
  }

  /** The decision from every part's reservation: banned, denied (parts taken back) or admitted. */
  async #combineParts(
    req: DecideRequest,
    parts: readonly Part[],
    reserved: readonly Reservation[],
  ): Promise<Decision> {
    const banned = reserved.find((r) => r.banned)?.banned;
    if (banned) {
      await this.#undo(req, parts, reserved);
      return bannedDecision(banned, req.nowMs);
    }
    const steps = this.#inOrder(
      req,
      parts,
      reserved.map((r) => r.steps),
    );
    const { decision, commit } = combine(req.checks, steps, req.countRejected, false);
    // Taken back before the caller hears "denied": a client that waits for
    // its answers never finds units held by its own refused requests.
    if (!commit) await this.#undo(req, parts, reserved);
    const delayMs = Math.max(0, ...reserved.map((r) => r.delayMs ?? 0));
    if (decision.allowed && delayMs > 0) decision.delayMs = delayMs;
    if (decision.allowed && req.lease) {
      const acquire: ShardOp = { op: "acquire", lease: req.lease, nowMs: req.nowMs };
      const taken = await this.#lane(this.#shardOf(req.lease.key)).run(acquire, req.waitUntil);
      if (taken) {
        // No lease free: the parts' reservations are taken back, nothing consumed.
        await this.#undo(req, parts, reserved);
        const { inFlight } = taken as { inFlight: number };
        const unconsumed = combine(req.checks, steps, false, true).decision;
        return {
          ...unconsumed,
          allowed: false,
          retryAfterMs: CONCURRENCY_RETRY_MS,
          concurrency: { max: req.lease.max, inFlight },
        };
      }
    }
    if (decision.allowed || !req.ban) return decision;
    const strike: ShardOp = { op: "strike", ban: req.ban, nowMs: req.nowMs, denial: decision };
    return (await this.#lane(this.#shardOf(req.ban.key)).run(strike, req.waitUntil)) as Decision;
  }

  async peek(req: DecideRequest): Promise<Decision> {
    const parts = this.#split(req);
    if (parts.length === 1) return (await this.#run(parts[0] as Part, "peek", req)) as Decision;
    const steps = (await Promise.all(parts.map((p) => this.#run(p, "steps", req)))) as StepView[][];
    return combine(req.checks, this.#inOrder(req, parts, steps), false, true).decision;
  }

  async refund(req: DecideRequest): Promise<void> {
    await Promise.all(this.#split(req).map((p) => this.#run(p, "refund", req)));
  }

  async release(lease: { rule: string; key: string; id: string; nowMs: number }): Promise<void> {
    const op: ShardOp = { op: "release", key: lease.key, id: lease.id, nowMs: lease.nowMs };
    await this.#lane(this.#shardOf(lease.key)).run(op);
  }

  async reset(_rule: string, keys: readonly string[]): Promise<void> {
    const byShard = new Map<string, string[]>();
    for (const key of keys) {
      const name = this.#shardOf(key);
      byShard.set(name, [...(byShard.get(name) ?? []), key]);
    }
    await Promise.all(
      [...byShard].map(([name, ks]) => this.#call<void>(name, (stub) => stub.reset(ks))),
    );
  }

  async ping(): Promise<void> {
    await this.#call<string>("__ping", (stub) => stub.ping());
  }

  /** Asks each of the rules' objects for its bans (admin only). */
  async listBans(prefix: string, rules: readonly string[], nowMs: number): Promise<BanEntry[]> {
    const groups = new Set(rules.map((rule) => this.#placement.get(rule) ?? rule));
    const names = [...groups].flatMap((group) =>
      this.#shards <= 1 ? [group] : Array.from({ length: this.#shards }, (_, i) => `${group}#${i}`),
    );
    const lists = await Promise.all(
      names.map((name) => this.#call<BanEntry[]>(name, (stub) => stub.bans(prefix, nowMs))),
    );
    return lists.flat();
  }

  #shardOf(key: string): string {
    return objectFor(key, this.#shards, this.#placement);
  }

  /** The decision's checks grouped by the object they live in, first-seen order. */
  #split(req: DecideRequest): Part[] {
    const parts = new Map<string, Part>();
    req.checks.forEach((check, index) => {
      const name = this.#shardOf(check.key);
      const part = parts.get(name) ?? { name, checks: [], indexes: [] };
      part.checks.push(check);
      part.indexes.push(index);
      parts.set(name, part);
    });
    return [...parts.values()];
  }

  /** Every part's steps put back in the decision's check order. */
  #inOrder(req: DecideRequest, parts: readonly Part[], steps: readonly StepView[][]): StepView[] {
    const all: StepView[] = new Array(req.checks.length);
    parts.forEach((p, i) => {
      p.indexes.forEach((at, j) => {
        all[at] = steps[i]?.[j] as StepView;
      });
    });
    return all;
  }

  /**
   * Takes back the parts a denied decision committed. A lost undo only makes
   * the limit stricter until the units refill, so failures are not raised.
   */
  async #undo(req: DecideRequest, parts: readonly Part[], reserved: readonly Reservation[]) {
    await Promise.all(
      parts.map((part, i) => {
        const r = reserved[i];
        if (!r?.committed) return undefined;
        const op: ShardOp = { op: "undo", checks: part.checks, nowMs: req.nowMs, undo: r.undo };
        return this.#lane(part.name)
          .run(op, req.waitUntil)
          .catch(() => null);
      }),
    );
  }

  #run(part: Part, op: "decide" | "peek" | "refund" | "reserve" | "steps", req: DecideRequest) {
    // The ban rides with the part in its object (every part of a rule's subject shares one).
    const withBan =
      req.ban && (op === "decide" || op === "reserve") && part.name === this.#shardOf(req.ban.key);
    const plain: Plain = {
      rule: req.rule,
      checks: part.checks,
      nowMs: req.nowMs,
      countRejected: req.countRejected,
      ...(withBan ? { ban: req.ban } : {}),
      ...(req.maxDelayMs ? { maxDelayMs: req.maxDelayMs } : {}),
      // A decision in one object takes its lease there, in the same operation.
      ...(op === "decide" && req.lease ? { lease: req.lease } : {}),
      ...(op === "decide" && this.#holdsAdaptive(part, req) ? { adaptive: req.adaptive } : {}),
    };
    return this.#lane(part.name).run({ op, req: plain }, req.waitUntil);
  }

  #lane(name: string): GroupCommit<ShardOp, ShardResult> {
    let lane = this.#lanes.get(name);
    if (!lane) {
      const send = async (ops: ShardOp[]) =>
        checkedReply(ops, await this.#ns.getByName(name).run(ops));
      lane = new GroupCommit(send, {
        ...GROUP_COMMIT_DEFAULTS,
        ...this.#options.groupCommit,
        timeoutMs: this.#options.timeoutMs,
      });
      this.#lanes.set(name, lane);
    }
    return lane;
  }
}

/**
 * The object's reply, if it has the shape each operation expects; otherwise
 * (an object of another version mid-deploy, say) a store failure, so the
 * rule's onStoreError applies instead of a 500.
 */
function checkedReply(ops: readonly ShardOp[], reply: unknown): ShardResult[] {
  const isDecision = (r: unknown) => {
    const o = r as Partial<Decision> | null;
    return (
      typeof o?.allowed === "boolean" && Number.isFinite(o.retryAfterMs) && Array.isArray(o.limits)
    );
  };
  const fits = (r: unknown, op: ShardOp): boolean => {
    switch (op.op) {
      case "refund":
      case "undo":
      case "release":
        return r === null;
      case "steps":
        return Array.isArray(r);
      case "acquire":
        return r === null || Number.isFinite((r as { inFlight?: unknown } | null)?.inFlight);
      case "adapt": {
        const o = r as { factorPpm?: unknown; pauseUntilMs?: unknown } | null;
        return Number.isFinite(o?.factorPpm) && Number.isFinite(o?.pauseUntilMs);
      }
      case "reserve": {
        const o = r as Partial<Reservation> | null;
        return Array.isArray(o?.steps) && typeof o?.committed === "boolean";
      }
      default:
        return isDecision(r);
    }
  };
  const failed = (reply as Partial<BatchFailure> | null)?.failed;
  if (typeof failed === "string") {
    throw new StoreError(`the limit object failed the batch: ${failed.slice(0, 160)}`, "error");
  }
  const fitsAll = Array.isArray(reply) && reply.length === ops.length;
  if (!fitsAll || !ops.every((op, i) => fits(reply[i], op))) {
    throw new StoreError("unexpected reply from the limit object", "error");
  }
  return reply as ShardResult[];
}

interface Part {
  name: string;
  checks: LimitCheck[];
  /** Where each of `checks` stands in the decision. */
  indexes: number[];
}
