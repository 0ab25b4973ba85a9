/** @module stores/group-commit — decisions that arrive while a store call is in flight go out together in the next call. */
import { StoreError } from "../limiter/types.ts";
import { type BudgetTimer, budgetTimer, LAG_SLACK_MS, noteLag, withBudget } from "./budget.ts";

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
 * How often a waiting request looks for what other requests left it: while
 * its batch is out and the answer is due, and (`QUEUED_POLL_MS`) while it
 * waits for a slot, when only a call to lead can come, and the member that
 * looks soonest is the one chosen.
 */
export const POLL_MS = 1;
export const QUEUED_POLL_MS = 4;
const MAX_POLL_MS = 16;

/**
 * Calls one request sends in a row for others before a member's own
 * request takes over (Workers bound the subrequests of one request).
 */
export const MAX_CHAIN = 32;

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
  /** A batch this waiter is to send, set by whichever request freed the slot. */
  toLead: Batch<T, R> | undefined;
  /** Its outcome, set by another request, for its own request to hand over. */
  delivered: { outcome: R | StoreError } | undefined;
  /** Its own request's timer that looks for `toLead` and `delivered`. */
  poll: ReturnType<typeof setTimeout> | undefined;
  /** When that timer looks next (the clock of `GroupCommitOptions.now`). */
  pollAt: number;
}

/** The request a call is sent from: its keep-alive, its own waiter in the batch, calls it sent in a row. */
interface Sender<T, R> {
  keepAlive: KeepAlive | undefined;
  own: Waiter<T, R> | undefined;
  chain: number;
}

interface Batch<T, R> {
  members: Waiter<T, R>[];
  /** The member that sends it. */
  leader: Waiter<T, R>;
  /** When its slot was taken. */
  reservedAt: number;
  sent: boolean;
  /** When it was sent. */
  sentAt: number;
  /** Its slot was given back before it was sent (its members gave up waiting, or its leader's request is gone). */
  abandoned: boolean;
}

/**
 * Group commit over a store call that takes many items at once.
 *
 * - A lone item goes out at once, in its caller's request; items that arrive
 *   while calls are in flight wait and go together in the next call, in
 *   arrival order, at most `maxBatch` per call.
 * - Workers rules on I/O across requests: a call is one request's I/O, kept
 *   alive with its `keepAlive` so it is not cancelled when that request
 *   ends. The request that hears the store sends the next batch at once, up
 *   to `MAX_CHAIN` calls in a row; then a member sends it from its own
 *   request. No request resolves another's promise: one that did would run
 *   the other's continuation, and its origin fetch, as its own I/O (workerd
 *   then cancels the other as hung, or refuses its response body as I/O of
 *   another request). Outcomes and leadership are left on the waiter, and
 *   the waiter's own timer (`#watch`) hands them over in its own request.
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
        toLead: undefined,
        delivered: undefined,
        poll: undefined,
        pollAt: 0,
      };
      if (this.#inFlight < this.limit && this.#queue.length === 0) {
        // A lone item goes out at once; the call's own budget is its budget.
        this.#inFlight++;
        this.#dispatch(
          { keepAlive: waiter.keepAlive, own: waiter, chain: 0 },
          this.#reserve([waiter], waiter),
        );
        return;
      }
      if (this.#queue.length >= this.#options.maxQueue) {
        reject(
          new StoreError(`${this.#queue.length} decisions already wait for the store`, "overload"),
        );
        return;
      }
      this.#watch(waiter);
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

  /**
   * Sends `batch` as `sender`'s I/O (the request it runs in), then settles
   * the member of that request at once, leaves the others their outcomes
   * (see `#watch`), and sends the next batch from the same request.
   */
  #dispatch(sender: Sender<T, R>, batch: Batch<T, R>): void {
    // The slot was given back meanwhile; its members are queued again.
    if (batch.abandoned) return;
    batch.sent = true;
    batch.sentAt = this.#options.now();
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
          const outcome =
            result === undefined
              ? new StoreError("store reply is missing an item", "error")
              : result;
          // The sender's own member hears now; the others in their requests.
          if (m === sender.own) settle(m, outcome);
          else deliver(m, outcome);
        });
        this.#pump(sender);
      },
      (err: unknown) => {
        this.#inFlight--;
        this.#failed();
        const error = err instanceof StoreError ? err : new StoreError(String(err), "error");
        for (const m of batch.members) {
          if (m === sender.own) settle(m, error);
          else deliver(m, error);
        }
        this.#pump(sender);
      },
    );
    sender.keepAlive?.(call);
  }

  /**
   * Starts as many queued batches as free slots allow: from the request
   * that heard the store (`after`), up to `MAX_CHAIN` calls in a row, else
   * from the request of a member, when its timer next looks.
   */
  #pump(after?: Sender<T, R>): void {
    while (this.#inFlight < this.limit) {
      const members: Waiter<T, R>[] = [];
      while (members.length < this.#options.maxBatch && this.#queue.length > 0) {
        const next = this.#queue.shift() as Waiter<T, R>;
        if (!done(next)) members.push(next);
      }
      if (members.length === 0) return;
      this.#inFlight++;
      // The member that looks soonest (the newest among equals, whose
      // budget ends last) would send it from its own request.
      let leader = members.at(-1) as Waiter<T, R>;
      for (const m of members) if (m.pollAt < leader.pollAt) leader = m;
      const batch = this.#reserve(members, leader);
      if (after?.keepAlive && after.chain < MAX_CHAIN) {
        this.#dispatch(
          { keepAlive: after.keepAlive, own: undefined, chain: after.chain + 1 },
          batch,
        );
      } else {
        leader.toLead = batch;
      }
    }
  }

  #reserve(members: Waiter<T, R>[], leader: Waiter<T, R>): Batch<T, R> {
    const batch: Batch<T, R> = {
      members,
      leader,
      reservedAt: this.#options.now(),
      sent: false,
      sentAt: 0,
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
    const leader = batch.leader;
    // A leader that never sent is gone or stuck: it leads nothing again.
    leader.toLead = undefined;
    deliver(leader, new StoreError("batch was never sent", "error"));
    for (const m of batch.members.toReversed()) {
      m.batch = undefined;
      if (!done(m)) this.#queue.unshift(m);
    }
    this.#pump();
  }

  #expire(waiter: Waiter<T, R>): void {
    const { timeoutMs } = this.#options;
    const batch = waiter.batch;
    // Its batch is out: the store's time began when it was sent, and the
    // call's own budget ends the wait (its outcome is left for this waiter,
    // whose own timer keeps looking). Time spent queued here is this
    // isolate's, not the store's.
    if (batch?.sent && !waiter.delivered) return;
    // An answer left for it before its budget ended is its answer.
    const outcome = waiter.delivered
      ? waiter.delivered.outcome
      : new StoreError(`store did not answer within ${timeoutMs} ms`, "timeout");
    settle(waiter, outcome);
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

  /**
   * Arms `waiter`'s own timer (this runs in its request): it sends the batch
   * it was chosen to lead, hands over an outcome another request left, or
   * looks again: every `QUEUED_POLL_MS` per `maxBatch` queued while it waits for a slot, and once
   * its batch is out, when the store's answer is due (its quickest recent
   * round trip), then after a quarter of the time waited so far.
   */
  #watch(waiter: Waiter<T, R>): void {
    const batch = waiter.batch;
    const now = this.#options.now();
    // Deep in a long queue, no batch can come before several have gone.
    let wait = QUEUED_POLL_MS * Math.max(1, Math.ceil(this.#queue.length / this.#options.maxBatch));
    if (batch?.sent) {
      const rtt = this.#rtts.length > 0 ? Math.min(...this.#rtts) : 0;
      const due = batch.sentAt + rtt - now;
      // Past due, a quarter of the time waited so far, at most
      // `MAX_POLL_MS`: an answer is handed over soon after it came, in few looks.
      const late = Math.min(MAX_POLL_MS, Math.floor((now - batch.sentAt) / 4));
      wait = due > 0 ? due : Math.max(POLL_MS, late);
    }
    waiter.pollAt = now + wait;
    const dueAt = Date.now() + wait;
    waiter.poll = setTimeout(() => {
      waiter.poll = undefined;
      // A look that comes late says this isolate is behind (see budget.ts).
      const now = Date.now();
      if (now - dueAt > LAG_SLACK_MS) noteLag(now);
      if (waiter.delivered) {
        settle(waiter, waiter.delivered.outcome);
        return;
      }
      if (waiter.settled) return;
      const lead = waiter.toLead;
      if (lead) {
        waiter.toLead = undefined;
        this.#dispatch({ keepAlive: waiter.keepAlive, own: waiter, chain: 0 }, lead);
        // Its own result comes back in its own request; no more looking.
        if (!lead.abandoned) return;
      }
      this.#watch(waiter);
    }, wait);
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

/** Hands `waiter` its outcome; only ever called in the waiter's own request. */
function settle<R>(waiter: Waiter<unknown, R>, outcome: R | StoreError): void {
  if (waiter.settled) return;
  waiter.settled = true;
  waiter.timer?.cancel();
  if (waiter.poll !== undefined) clearTimeout(waiter.poll);
  waiter.poll = undefined;
  if (outcome instanceof StoreError) waiter.reject(outcome);
  else waiter.resolve(outcome);
}

/** Settled, or its outcome left for its own request to hand over. */
function done<R>(waiter: Waiter<unknown, R>): boolean {
  return waiter.settled || waiter.delivered !== undefined;
}

/** Leaves `waiter`'s outcome for its own timer to hand over (see `#watch`). */
function deliver<R>(waiter: Waiter<unknown, R>, outcome: R | StoreError): void {
  if (!waiter.settled && !waiter.delivered) waiter.delivered = { outcome };
}
