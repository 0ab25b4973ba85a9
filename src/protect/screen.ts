/** @module protect/screen — the screen stage: which lists a request is on, from memory; runtime entries refreshed in the background. */
import type { ListSpec } from "../policy/types.ts";
import { addressOf } from "./cidr.ts";
import type { ListStore, ListsSnapshot } from "./list-store.ts";
import { CompiledLists } from "./lists.ts";

/** How often an isolate asks whether runtime entries changed (one small read). */
export const LIST_REFRESH_MS = 15_000;
/** After a failed read, the next try comes this much later. */
const RETRY_MS = 5_000;

/**
 * Where a request stands with the lists. A deny list wins over an allow list
 * (a range can be denied while a wider one is allowed, and a deny entry made in
 * an incident must hold whatever else is listed).
 */
export class Screening {
  readonly #lists: CompiledLists;
  /** Names of the lists the request is on. */
  readonly names: string[];

  constructor(lists: CompiledLists, names: string[]) {
    this.#lists = lists;
    this.names = names;
  }

  /** The deny list the request is on, if any: it is refused with 403. */
  get denied(): string | undefined {
    return this.#lists.withAction(this.names, "deny");
  }

  /** The allow list the request is on, if any: no limit applies. */
  get allowed(): string | undefined {
    return this.#lists.withAction(this.names, "allow");
  }

  /** The first of a rule's `exempt` lists the request is on. */
  exempt(from: readonly string[]): string | undefined {
    return from.find((name) => this.names.includes(name));
  }

  /** The same request once its key resolved to `tenant`: tenant entries count too. */
  withTenant(tenant: string): Screening {
    const more = this.#lists.tenantMembership(tenant).filter((n) => !this.names.includes(n));
    return more.length === 0 ? this : new Screening(this.#lists, [...this.names, ...more]);
  }
}

/**
 * The screen stage. Lists from the policy are compiled once; runtime entries
 * (admin API) come from `store`. Each request is answered from memory: at most
 * every `refreshMs` one request starts a background check of the store's
 * revision (`waitUntil` keeps it alive past the response), and loads the
 * entries only when they changed, so every isolate sees a change within
 * `refreshMs` plus one store round trip, at no store call per request in
 * steady state. Only an isolate's first request waits for the first load
 * (at most `firstLoadMs`); if the store cannot be read, the policy's lists
 * alone apply until it can (retried every 5 s).
 *
 * @example
 * const screen = new Screen(policy.lists, new ListStore(directory, Object.keys(policy.lists)));
 * const s = await screen.check({ ip: "198.51.100.7", country: "DE" }, Date.now());
 * if (s.denied) throw forbidden(…);
 */
export class Screen {
  readonly #specs: Readonly<Record<string, ListSpec>>;
  readonly #active: boolean;
  readonly #store: ListStore | undefined;
  readonly #refreshMs: number;
  readonly #firstLoadMs: number;
  readonly #onError: (err: unknown) => void;
  #snapshot: ListsSnapshot = { revision: null, entries: {} };
  #compiled: CompiledLists;
  /** When the store was last asked (successfully or not, shifted for retries); undefined: never. */
  #checkedMs: number | undefined;
  #inFlight: Promise<void> | undefined;
  /** The screening of a request on no list, shared when the policy has none. */
  readonly #none: Screening;
  /** Bumped by `apply`, so a load that started before it does not undo it. */
  #generation = 0;

  constructor(
    specs: Readonly<Record<string, ListSpec>>,
    store?: ListStore,
    options: { refreshMs?: number; firstLoadMs?: number; onError?: (err: unknown) => void } = {},
  ) {
    this.#specs = specs;
    this.#active = Object.keys(specs).length > 0;
    this.#store = this.#active ? store : undefined;
    this.#refreshMs = options.refreshMs ?? LIST_REFRESH_MS;
    this.#firstLoadMs = options.firstLoadMs ?? 1000;
    this.#onError = options.onError ?? (() => {});
    this.#compiled = new CompiledLists(specs, {}, 0);
    this.#none = new Screening(this.#compiled, []);
  }

  /** Does the policy declare any list? Without one the stage has nothing to do. */
  get active(): boolean {
    return this.#active;
  }

  /** The runtime entries this isolate knows (for the admin API's view and tests). */
  get snapshot(): ListsSnapshot {
    return this.#snapshot;
  }

  /**
   * Which lists the request's address and country are on.
   *
   * @example
   * const s = await screen.check({ ip: identity.ip, country: "DE" }, nowMs, waitUntilOf(c));
   */
  async check(
    who: { ip: string; country?: string | undefined },
    nowMs: number,
    waitUntil?: (work: Promise<unknown>) => void,
  ): Promise<Screening> {
    // No lists: nothing to parse or look up on the hot path.
    if (!this.active) return this.#none;
    await this.#fresh(nowMs, waitUntil);
    if (nowMs >= this.#compiled.expiresAtMs) this.#compile(nowMs);
    const address = who.ip === "" ? undefined : addressOf(who.ip);
    const country = who.country?.toUpperCase();
    return new Screening(this.#compiled, this.#compiled.membership(address, country));
  }

  /** Uses `snapshot` at once (after a change made through this isolate). */
  apply(snapshot: ListsSnapshot, nowMs: number): void {
    this.#generation++;
    this.#snapshot = snapshot;
    this.#checkedMs = nowMs;
    this.#compile(nowMs);
  }

  async #fresh(nowMs: number, waitUntil?: (work: Promise<unknown>) => void): Promise<void> {
    if (!this.#store) return;
    if (this.#checkedMs === undefined) {
      if (!this.#inFlight) {
        this.#inFlight = this.#refresh(nowMs);
        waitUntil?.(this.#inFlight);
      }
      // The first request waits, on a timer of its own: workerd cancels a
      // request that only awaits I/O another request started.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#firstLoadMs);
      });
      await Promise.race([this.#inFlight, timeout]);
      if (timer !== undefined) clearTimeout(timer);
      return;
    }
    if (nowMs - this.#checkedMs < this.#refreshMs || this.#inFlight) return;
    this.#inFlight = this.#refresh(nowMs);
    waitUntil?.(this.#inFlight);
  }

  async #refresh(nowMs: number): Promise<void> {
    const store = this.#store as ListStore;
    const generation = this.#generation;
    try {
      const loaded = this.#checkedMs !== undefined;
      const revision = loaded ? await store.revision() : undefined;
      if (!loaded || revision !== this.#snapshot.revision) {
        const snapshot = await store.load(nowMs);
        if (generation !== this.#generation) return;
        this.#snapshot = snapshot;
        this.#compile(nowMs);
      }
      this.#checkedMs = nowMs;
    } catch (err) {
      this.#checkedMs = nowMs - this.#refreshMs + RETRY_MS;
      this.#onError(err);
    } finally {
      this.#inFlight = undefined;
    }
  }

  #compile(nowMs: number): void {
    this.#compiled = new CompiledLists(this.#specs, this.#snapshot.entries, nowMs);
  }
}
