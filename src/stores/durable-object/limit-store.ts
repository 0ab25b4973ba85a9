/** @module stores/durable-object/limit-store — the embedded store: limits in Durable Objects sharded by subject, decisions group-committed per object. */
import { DurableObject } from "cloudflare:workers";
import { combine, type StepView } from "../../limiter/model.ts";
import {
  decideOnTable,
  peekOnTable,
  type Reservation,
  refundOnTable,
  reserveOnTable,
  type StateRow,
  type StateTable,
  stepsOnTable,
  type UndoEntry,
  undoOnTable,
} from "../../limiter/table.ts";
import {
  type DecideRequest,
  type Decision,
  type LimitCheck,
  type LimitStore,
  StoreError,
} from "../../limiter/types.ts";
import { withBudget } from "../budget.ts";
import { GROUP_COMMIT_DEFAULTS, GroupCommit, type GroupCommitOptions } from "../group-commit.ts";

/** How often an object deletes lapsed state. */
const SWEEP_EVERY_MS = 60_000;

/** Objects the limits are spread over, by subject (see `shardOf`). */
export const DEFAULT_SHARDS = 8;

/** A decision as it travels to an object: plain data, no callbacks. */
type Plain = Omit<DecideRequest, "waitUntil">;

/** One operation of a batch sent to one object. */
export type ShardOp =
  | { op: "decide" | "peek" | "refund"; req: Plain }
  /** This object's part of a decision spread over several objects. */
  | { op: "reserve" | "steps"; req: Plain }
  | { op: "undo"; checks: LimitCheck[]; nowMs: number; undo: UndoEntry[] };

export type ShardResult = Decision | Reservation | StepView[] | null;

/**
 * Holds the limit state of the subjects routed to it, in its SQLite
 * storage, and runs the reference model on it. A batch runs its operations
 * in order with no await between read and write, so the object's single
 * thread makes each one atomic.
 */
export class SluiceStore extends DurableObject {
  #latestNowMs = 0;
  #wrote = false;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    // `seen`: the latest caller time for the key (see limiter/table.ts).
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS limit_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL, seen INTEGER NOT NULL)",
    );
  }

  /** The SQLite table as the engine's state table. */
  readonly #table: StateTable = {
    read: (key) =>
      this.ctx.storage.sql
        .exec<StateRow>(
          "SELECT value, expires_at AS expiresAt, seen FROM limit_state WHERE key = ?",
          key,
        )
        .toArray()[0],
    write: (key, row) => {
      this.ctx.storage.sql.exec(
        "INSERT INTO limit_state (key, value, expires_at, seen) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, seen = excluded.seen",
        key,
        row.value,
        row.expiresAt,
        row.seen,
      );
      this.#wrote = true;
    },
    remove: (key) => {
      this.ctx.storage.sql.exec("DELETE FROM limit_state WHERE key = ?", key);
    },
  };

  /** Runs a batch in order: each operation sees the writes of those before it. */
  run(ops: readonly ShardOp[]): ShardResult[] {
    const results = ops.map((op) => this.#one(op));
    if (this.#wrote) void this.#scheduleSweep();
    this.#wrote = false;
    return results;
  }

  #one(op: ShardOp): ShardResult {
    if (op.op === "undo") {
      undoOnTable(this.#table, op.checks, op.nowMs, op.undo);
      return null;
    }
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
    for (const key of keys) this.#table.remove(key);
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
    const left = this.ctx.storage.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM limit_state")
      .one();
    if (left.n > 0) await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
  }

  async #scheduleSweep(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + SWEEP_EVERY_MS);
    }
  }
}

export interface DurableObjectStoreOptions {
  /** Time budget of one decision, waiting for its batch included. */
  timeoutMs: number;
  /** Objects to spread subjects over (default 8); changing it starts counters afresh. */
  shards?: number;
  /** Batching knobs per object (defaults: `GROUP_COMMIT_DEFAULTS`). */
  groupCommit?: Partial<Omit<GroupCommitOptions, "timeoutMs">>;
}

/**
 * `LimitStore` over the `SluiceStore` namespace. Each key lives in the object
 * its subject hashes to (`shardOf`), whatever the rule, so a hot rule's
 * subjects spread over several objects and a limit shared between rules
 * stays in one place. Calls to each object are group-committed: one RPC
 * carries every decision that waited for it.
 *
 * A decision whose limits all live in one object is one operation there,
 * atomic as always. One spread over several objects reserves its part in
 * each (in parallel; a part commits only what its own limits admit), and if
 * the whole decision denies, the committed parts are taken back before it
 * answers. No request is ever admitted that a limit would refuse; between a
 * reservation and its undo, a concurrent request may find the reserved
 * units spent (refused early, never admitted late). The Redis store has no
 * such window: one script holds every key.
 *
 * @example
 * const store = new DurableObjectStore(env.SLUICE_STORE, { timeoutMs: 250 });
 */
export class DurableObjectStore implements LimitStore {
  readonly kind = "durable-object";
  readonly #ns: DurableObjectNamespace<SluiceStore>;
  readonly #options: DurableObjectStoreOptions;
  readonly #shards: number;
  readonly #lanes = new Map<string, GroupCommit<ShardOp, ShardResult>>();

  constructor(ns: DurableObjectNamespace<SluiceStore>, options: DurableObjectStoreOptions) {
    this.#ns = ns;
    this.#options = options;
    this.#shards = options.shards ?? DEFAULT_SHARDS;
  }

  /** RPCs made so far, over all objects (for tests and metrics). */
  get calls(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.calls;
    return n;
  }

  async decide(req: DecideRequest): Promise<Decision> {
    const parts = this.#split(req);
    if (parts.length === 1) {
      return (await this.#run(parts[0] as Part, "decide", req)) as Decision;
    }
    const reserved = (await Promise.all(
      parts.map((p) => this.#run(p, "reserve", req)),
    )) as Reservation[];
    const steps = this.#inOrder(
      req,
      parts,
      reserved.map((r) => r.steps),
    );
    const { decision, commit } = combine(req.checks, steps, req.countRejected, false);
    // Taken back before the caller hears "denied": a client that waits for
    // its answers never finds units held by its own refused requests.
    if (!commit) await this.#undo(req, parts, reserved);
    return decision;
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

  async reset(_rule: string, keys: readonly string[]): Promise<void> {
    const byShard = new Map<string, string[]>();
    for (const key of keys) {
      const name = this.#shardOf(key);
      byShard.set(name, [...(byShard.get(name) ?? []), key]);
    }
    await Promise.all(
      [...byShard].map(([name, ks]) =>
        withBudget(this.#ns.getByName(name).reset(ks) as Promise<void>, this.#options.timeoutMs),
      ),
    );
  }

  async ping(): Promise<void> {
    await withBudget(
      this.#ns.getByName("__ping").ping() as Promise<string>,
      this.#options.timeoutMs,
    );
  }

  #shardOf(key: string): string {
    return shardOf(key, this.#shards);
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
    const plain: Plain = {
      rule: req.rule,
      checks: part.checks,
      nowMs: req.nowMs,
      countRejected: req.countRejected,
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
  const fits = (r: unknown, op: ShardOp): boolean => {
    if (op.op === "refund" || op.op === "undo") return r === null;
    if (op.op === "steps") return Array.isArray(r);
    const o = r as Partial<Decision & Reservation> | null;
    if (op.op === "reserve") return Array.isArray(o?.steps) && typeof o?.committed === "boolean";
    return (
      typeof o?.allowed === "boolean" &&
      Number.isFinite(o.retryAfterMs) &&
      Array.isArray(o.limits) &&
      o.limits.length === op.req.checks.length
    );
  };
  if (
    !Array.isArray(reply) ||
    reply.length !== ops.length ||
    !ops.every((op, i) => fits(reply[i], op))
  ) {
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

/**
 * The object a key lives in: FNV-1a of its subject (what follows
 * `<prefix>:<rule>:<limit>:`) modulo `shards`. Every limit on one subject
 * lands in one object, whatever the rule.
 *
 * @example
 * shardOf("sluice:api:ip-1m:ip:203.0.113.7", 8); // "limits-5" (say)
 */
export function shardOf(key: string, shards: number): string {
  const fields = key.split(":");
  const subject = fields.length > 3 ? fields.slice(3).join(":") : key;
  let hash = 0x811c9dc5;
  for (let i = 0; i < subject.length; i++) {
    hash ^= subject.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `limits-${hash % shards}`;
}
