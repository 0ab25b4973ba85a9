/** @module stores/group-commit — decisions that arrive while a store call is in flight go out together in the next call. */
import { StoreError } from "../limiter/types.ts";
import { type BudgetTimer, budgetTimer, withBudget } from "./budget.ts";

export interface GroupCommitOptions {
  /** Most items one call carries. */
  maxBatch: number;
  /** Most calls in flight at once; the adaptive limit moves between 1 and this. */
  maxInFlight: number;
  /** Most items waiting; past it a caller is refused at once (`overload`) and falls back. */
  maxQueue: number;
  /** Each caller's time budget, waiting included; also each call's. */
  timeoutMs: number;
  /** Consecutive failed calls after which the store is skipped. */
  failuresToSkip: number;
  /** While skipped, one caller is let through as a probe at most this often. */
  probeEveryMs: number;
  /**
   * Store round trip that earns one more call in flight: with round trips of
   * R ms, up to R / this calls overlap. Near stores (R below it) get one call
   * at a time and the largest batches; far ones get staggered calls, so a
   * waiter seldom waits a whole round trip for a free slot.
   */
  msPerCallInFlight: number;
  /** Clock for round trips and the skip window (tests inject one). */
  now: () => number;
}

/** Defaults sized for a store on the other end of a fetch (Upstash REST, a Durable Object). */
export const GROUP_COMMIT_DEFAULTS: Omit<GroupCommitOptions, "timeoutMs"> = {
  maxBatch: 64,
  maxInFlight: 8,
  maxQueue: 2048,
  failuresToSkip: 3,
  probeEveryMs: 1000,
  msPerCallInFlight: 2,
  now: Date.now,
};

/**
 * One decision waiting per this many ms of the budget means a burst
 * saturates the isolate (see `#busy`).
 */
const BUSY_ARRIVAL_MS = 8;

/**
 * How often a waiting request looks for an outcome another request left it:
 * every ms once its batch is out, every 4 while it is still queued; and at
 * most every eighth of the time it has waited so far, up to 16 ms apart, so
 * a long wait (a slow store, a flood) costs a few dozen looks, not hundreds,
 * and adds at most an eighth to it.
 */
const POLL_MS = 1;
const QUEUED_POLL_MS = 4;
export const MAX_POLL_MS = 16;
const POLL_SHARE = 8;

/** Round trips the in-flight limit looks back over. */
const RTT_WINDOW = 16;

/** Keeps the caller's request alive until `work` settles (Workers' `ctx.waitUntil`). */
export type KeepAlive = (work: Promise<unknown>) => void;

interface Waiter<T, R> {
  item: T;
  keepAlive: KeepAlive | undefined;
  settled: boolean;
  resolve(result: R): void;
  reject(err: StoreError): void;
  timer: BudgetTimer | undefined;
  batch: Batch<T, R> | undefined;
  /** Called in the waiter's own request when it is chosen to send a batch. */
  lead(batch: Batch<T, R>): void;
  /**
   * An outcome left by another request, handed over by this waiter's own
   * timer (`poll`), so the caller's code goes on in its own request.
   */
  left: { outcome: R | StoreError } | undefined;
  poll: ReturnType<typeof setTimeout> | undefined;
}

interface Batch<T, R> {
  members: Waiter<T, R>[];
  /** When its slot was taken. */
  reservedAt: number;
  sent: boolean;
  /** Its slot was given back before it was sent (its members gave up waiting, or its leader's request is gone). */
  abandoned: boolean;
}

/**
 * Group commit over a store call that takes many items at once.
 *
 * - A lone item goes out at once, in its caller's request; items that arrive
 *   while calls are in flight wait and go together in the next call, in
 *   arrival order, at most `maxBatch` per call.
 * - Workers rules on I/O across requests: a batch is sent by one of its own
 *   members (the newest, whose budget ends last), from its own request, and
 *   kept alive with `keepAlive` so it is not cancelled when that request
 *   ends. Its results are left on the other members, and each member's own
 *   timer hands its result over, in its own request: under load workerd may
 *   run a promise's reactions in the request that resolved it, and the
 *   member's origin fetch would then be that request's I/O. Every waiter
 *   keeps its own budget timer pending, so the runtime never takes it for hung.
 * - Bounded: at most `maxQueue` items wait, each at most its budget; past
 *   that, callers get a `StoreError` at once and fall back.
 * - A dead store is skipped after `failuresToSkip` failed calls in a row:
 *   callers get `StoreError("skipped")` at once, one probe goes through at
 *   most every `probeEveryMs`, and the first call that answers ends it.
 *
 * @example
 * const commit = new GroupCommit((items) => store.callMany(items), { ...GROUP_COMMIT_DEFAULTS, timeoutMs: 250 });
 * const result = await commit.run(item, (p) => ctx.waitUntil(p));
 */
export class GroupCommit<T, R> {
  readonly #send: (items: T[]) => Promise<R[]>;
  readonly #options: GroupCommitOptions;
  readonly #queue: Waiter<T, R>[] = [];
  #inFlight = 0;
  /** Batches whose slot is taken but which their leader has not sent yet. */
  readonly #unsent = new Set<Batch<T, R>>();
  /** Recent round trips; the limit follows their minimum (see `limit`). */
  readonly #rtts: number[] = [];
  #failures = 0;
  #skipUntil = 0;
  #calls = 0;
  /** Items waiting for their result (queued or in a call). */
  #waiting = 0;

  constructor(send: (items: T[]) => Promise<R[]>, options: GroupCommitOptions) {
    this.#send = send;
    this.#options = options;
  }

  /** Items waiting for a call (for tests and metrics). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Calls made so far (for tests and metrics). */
  get calls(): number {
    return this.#calls;
  }

  /** Calls in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * How many calls may be in flight now. It follows the smallest of the
   * recent round trips: the store's own latency, without the time calls
   * spend queued behind this isolate's busy CPU. A near store gets one call
   * at a time (the largest batches, the fewest subrequests); a far one gets
   * staggered calls, so a waiter seldom waits out a whole round trip.
   */
  get limit(): number {
    const { maxInFlight, msPerCallInFlight } = this.#options;
    if (this.#rtts.length === 0) return 1;
    const rtt = Math.min(...this.#rtts);
    return Math.max(1, Math.min(maxInFlight, Math.floor(rtt / msPerCallInFlight)));
  }

  /**
   * Runs `item` in the next call and settles with its result.
   *
   * @throws {StoreError} `timeout` past the budget, `error` when the call failed,
   * `skipped` while the store is skipped, `overload` when the queue is full.
   */
  run(item: T, keepAlive?: KeepAlive): Promise<R> {
    const skipped = this.#skipped();
    if (skipped) return Promise.reject(skipped);
    this.#reclaim();
    return new Promise<R>((resolve, reject) => {
      this.#waiting++;
      const waiter: Waiter<T, R> = {
        item,
        keepAlive,
        settled: false,
        resolve: (result) => {
          this.#waiting--;
          resolve(result);
        },
        reject: (err) => {
          this.#waiting--;
          reject(err);
        },
        timer: undefined,
        batch: undefined,
        lead: () => {},
        left: undefined,
        poll: undefined,
      };
      if (this.#inFlight < this.limit && this.#queue.length === 0) {
        // A lone item goes out at once; the call's own budget is its budget.
        this.#inFlight++;
        this.#dispatch(waiter, this.#reserve([waiter]));
        return;
      }
      if (this.#queue.length >= this.#options.maxQueue) {
        reject(
          new StoreError(`${this.#queue.length} decisions already wait for the store`, "overload"),
        );
        return;
      }
      // Resolved from whichever request frees a slot, but continued here, in
      // this caller's own request: the batch is sent with this request's I/O.
      new Promise<Batch<T, R>>((chosen) => {
        waiter.lead = chosen;
      }).then((batch) => this.#dispatch(waiter, batch));
      // A promise resolved from another request may go on in that request
      // (workerd does not always run its reactions in the request that made
      // it): the outcome is left on the waiter and this request's own timer,
      // which always fires in this request, hands it over.
      const look = () => {
        waiter.poll = undefined;
        if (waiter.settled) return;
        if (waiter.left) {
          settle(waiter, waiter.left.outcome);
          return;
        }
        const step = waiter.batch?.sent ? POLL_MS : QUEUED_POLL_MS;
        const waited = Date.now() - since;
        const interval = Math.min(MAX_POLL_MS, Math.max(step, Math.floor(waited / POLL_SHARE)));
        waiter.poll = setTimeout(look, interval);
      };
      const since = Date.now();
      waiter.poll = setTimeout(look, QUEUED_POLL_MS);
      waiter.timer = budgetTimer(
        this.#options.timeoutMs,
        () => this.#expire(waiter),
        () => this.#busy(),
      );
      this.#queue.push(waiter);
    });
  }

  /** While skipped, a `StoreError` for callers; once a probe is due, undefined (let one through). */
  #skipped(): StoreError | undefined {
    if (this.#failures < this.#options.failuresToSkip) return undefined;
    const now = this.#options.now();
    if (now >= this.#skipUntil) {
      this.#skipUntil = now + this.#options.probeEveryMs;
      return undefined;
    }
    return new StoreError(
      "store skipped after repeated failures; probing once a second",
      "skipped",
    );
  }

  /** Sends `batch` from `leader`'s request, then hands every member its result. */
  #dispatch(leader: Waiter<T, R>, batch: Batch<T, R>): void {
    // The slot was given back meanwhile; its members are queued again.
    if (batch.abandoned) return;
    batch.sent = true;
    this.#unsent.delete(batch);
    this.#calls++;
    const started = this.#options.now();
    const call = withBudget(
      this.#call(batch.members.map((m) => m.item)),
      this.#options.timeoutMs,
      () => this.#busy(),
    ).then(
      (results) => {
        // The slot is free before anyone hears back: a caller's next item goes straight out.
        this.#inFlight--;
        this.#succeeded(this.#options.now() - started);
        batch.members.forEach((m, i) => {
          const result = results[i];
          if (result === undefined)
            leave(m, new StoreError("store reply is missing an item", "error"));
          else leave(m, result);
        });
        this.#pump();
      },
      (err: unknown) => {
        this.#inFlight--;
        this.#failed();
        const error = err instanceof StoreError ? err : new StoreError(String(err), "error");
        for (const m of batch.members) leave(m, error);
        this.#pump();
      },
    );
    leader.keepAlive?.(call);
  }

  /** Starts as many queued batches as free slots allow. */
  #pump(): void {
    while (this.#inFlight < this.limit) {
      const members: Waiter<T, R>[] = [];
      while (members.length < this.#options.maxBatch && this.#queue.length > 0) {
        const next = this.#queue.shift() as Waiter<T, R>;
        if (!done(next)) members.push(next);
      }
      if (members.length === 0) return;
      this.#inFlight++;
      // The newest member's budget ends last: it can wait for the call longest.
      (members.at(-1) as Waiter<T, R>).lead(this.#reserve(members));
    }
  }

  #reserve(members: Waiter<T, R>[]): Batch<T, R> {
    const batch: Batch<T, R> = {
      members,
      reservedAt: this.#options.now(),
      sent: false,
      abandoned: false,
    };
    for (const m of members) m.batch = batch;
    this.#unsent.add(batch);
    return batch;
  }

  /** The send function may throw before it returns a promise: that is a failed call too. */
  #call(items: T[]): Promise<R[]> {
    try {
      return this.#send(items);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Gives back the slots of batches never sent: all their members gave up,
   * or their leader's request ended before it could send (a cancelled request
   * runs nothing more). Their members still waiting queue again.
   */
  #reclaim(): void {
    const tooOld = this.#options.now() - this.#options.timeoutMs;
    for (const batch of this.#unsent) {
      if (batch.reservedAt > tooOld && !batch.members.every(done)) continue;
      this.#abandon(batch);
    }
  }

  #abandon(batch: Batch<T, R>): void {
    if (batch.sent || batch.abandoned) return;
    batch.abandoned = true;
    this.#unsent.delete(batch);
    this.#inFlight--;
    const leader = batch.members.at(-1) as Waiter<T, R>;
    // A leader that never sent is gone or stuck: it leads nothing again.
    leave(leader, new StoreError("batch was never sent", "error"));
    for (const m of batch.members.toReversed()) {
      m.batch = undefined;
      if (!done(m)) this.#queue.unshift(m);
    }
    this.#pump();
  }

  #expire(waiter: Waiter<T, R>): void {
    const { timeoutMs } = this.#options;
    // An answer left for it before its budget ended is its answer.
    const outcome =
      waiter.left?.outcome ??
      new StoreError(`store did not answer within ${timeoutMs} ms`, "timeout");
    settle(waiter, outcome);
    const batch = waiter.batch;
    if (batch) {
      if (batch.members.every(done)) this.#abandon(batch);
      return;
    }
    const at = this.#queue.indexOf(waiter);
    if (at >= 0) this.#queue.splice(at, 1);
  }

  /**
   * Whether this isolate is working through a burst: at least one decision
   * per `BUSY_ARRIVAL_MS` of the budget still waits for the store. Its
   * replies then wait behind the burst's own requests. A slow store under
   * light traffic has few waiting, and keeps its budget.
   */
  #busy(): boolean {
    return this.#waiting * BUSY_ARRIVAL_MS >= this.#options.timeoutMs;
  }

  #succeeded(rttMs: number): void {
    this.#failures = 0;
    this.#rtts.push(rttMs);
    if (this.#rtts.length > RTT_WINDOW) this.#rtts.shift();
  }

  #failed(): void {
    this.#failures++;
    if (this.#failures === this.#options.failuresToSkip) {
      this.#skipUntil = this.#options.now() + this.#options.probeEveryMs;
    }
  }
}

/** Settled, or its outcome is left for it. */
function done(waiter: { settled: boolean; left?: unknown }): boolean {
  return waiter.settled || waiter.left !== undefined;
}

/**
 * Settles a lone waiter at once (its call was sent from its own request, so
 * this runs there); leaves a queued waiter's outcome for its own timer.
 */
function leave<R>(waiter: Waiter<unknown, R>, outcome: R | StoreError): void {
  if (waiter.settled) return;
  if (waiter.timer === undefined) settle(waiter, outcome);
  else waiter.left ??= { outcome };
}

function settle<R>(waiter: Waiter<unknown, R>, outcome: R | StoreError): void {
  if (waiter.settled) return;
  waiter.settled = true;
  waiter.timer?.cancel();
  if (waiter.poll !== undefined) clearTimeout(waiter.poll);
  waiter.poll = undefined;
  if (outcome instanceof StoreError) waiter.reject(outcome);
  else waiter.resolve(outcome);
}
