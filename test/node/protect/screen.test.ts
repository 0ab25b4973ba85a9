/** @module test/node/protect/screen — the screen stage: list membership, deny over allow, runtime entries seen within the refresh bound at no store call per request. */
import { describe, expect, it } from "vitest";
import type { ListSpec } from "../../../src/policy/types.ts";
import { type ListEntry, ListStore } from "../../../src/protect/list-store.ts";
import { LIST_REFRESH_MS, Screen } from "../../../src/protect/screen.ts";
import { Directory } from "../../../src/tenants/directory.ts";
import type { DocumentStore, DocumentWrite } from "../../../src/tenants/document-store.ts";
import type { AuditEntry } from "../../../src/tenants/types.ts";

/** Documents in memory, counting the calls made and failing on demand. */
class MemoryDocs implements DocumentStore {
  readonly kind = "redis";
  readonly docs = new Map<string, string>();
  calls = 0;
  down = false;

  async get(keys: readonly string[]): Promise<(string | null)[]> {
    this.#call();
    return keys.map((k) => this.docs.get(k) ?? null);
  }
  async members(): Promise<string[]> {
    this.#call();
    return [];
  }
  async recent(): Promise<string[]> {
    this.#call();
    return [];
  }
  async write(ops: readonly DocumentWrite[]): Promise<boolean> {
    this.#call();
    for (const op of ops) {
      if (op.op === "expect" && (this.docs.get(op.key) ?? null) !== op.value) return false;
    }
    for (const op of ops) if (op.op === "set") this.docs.set(op.key, op.value);
    return true;
  }
  #call(): void {
    this.calls++;
    if (this.down) throw new Error("store down");
  }
}

const T0 = Date.parse("2026-12-01T00:00:00Z");
const audit: AuditEntry = {
  at: "",
  actor: "ops",
  ip: "",
  action: "list.add",
  target: "",
  details: {},
};

const list = (action: ListSpec["action"], fields: Partial<ListSpec> = {}): ListSpec => ({
  action,
  ips: [],
  tenants: [],
  countries: [],
  ...fields,
});

const LISTS: Record<string, ListSpec> = {
  blocked: list("deny", { ips: ["198.51.100.0/24"], countries: ["KP"] }),
  partners: list("allow", { ips: ["198.51.0.0/16"], tenants: ["acme"] }),
  office: list(null, { ips: ["10.0.0.0/8", "2001:db8::/32"] }),
};

function entry(value: string, extra: Partial<ListEntry> = {}): ListEntry {
  return {
    kind: "ip",
    value,
    reason: "test",
    actor: "ops",
    createdAt: "2026-12-01T00:00:00.000Z",
    ...extra,
  };
}

function setup() {
  const docs = new MemoryDocs();
  const store = new ListStore(new Directory(docs, "dir"), Object.keys(LISTS));
  // A second isolate's view of the same store.
  return { docs, store, screen: new Screen(LISTS, store, { firstLoadMs: 1000 }) };
}

describe("Screen", () => {
  it("puts a request on every list holding its address, country or tenant; deny wins", async () => {
    const { screen } = setup();
    const denied = await screen.check({ ip: "198.51.100.7" }, T0);
    expect(denied.names).toEqual(["blocked", "partners"]);
    expect([denied.denied, denied.allowed]).toEqual(["blocked", "partners"]);
    const partner = await screen.check({ ip: "198.51.7.7" }, T0);
    expect([partner.denied, partner.allowed]).toEqual([undefined, "partners"]);
    expect((await screen.check({ ip: "203.0.113.1", country: "kp" }, T0)).denied).toBe("blocked");
    const office = await screen.check({ ip: "2001:db8:1::5" }, T0);
    expect([office.denied, office.allowed, office.exempt(["office"])]).toEqual([
      undefined,
      undefined,
      "office",
    ]);
    const tenant = (await screen.check({ ip: "" }, T0)).withTenant("acme");
    expect(tenant.allowed).toBe("partners");
    expect((await screen.check({ ip: "" }, T0)).names).toEqual([]);
  });

  it("loads runtime entries on the first request only, then costs no store call per request", async () => {
    const { docs, store, screen } = setup();
    await store.change("blocked", { add: [entry("203.0.113.0/24")], remove: [] }, audit, T0);
    docs.calls = 0;
    expect((await screen.check({ ip: "203.0.113.9" }, T0)).denied).toBe("blocked");
    expect(docs.calls).toBe(1);
    for (let i = 0; i < 100; i++) await screen.check({ ip: "203.0.113.9" }, T0 + i * 100);
    expect(docs.calls).toBe(1);
  });

  it("sees another isolate's change within the refresh interval, reading the entries only when they changed", async () => {
    const { docs, store, screen } = setup();
    const background: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => void background.push(p);
    expect((await screen.check({ ip: "192.0.2.1" }, T0, waitUntil)).denied).toBeUndefined();
    await store.change("blocked", { add: [entry("192.0.2.1")], remove: [] }, audit, T0 + 1);
    docs.calls = 0;

    // Before the interval: memory only.
    expect(
      (await screen.check({ ip: "192.0.2.1" }, T0 + LIST_REFRESH_MS - 1, waitUntil)).denied,
    ).toBeUndefined();
    expect(docs.calls).toBe(0);
    // The first request past it starts a background check and is answered from memory...
    expect(
      (await screen.check({ ip: "192.0.2.1" }, T0 + LIST_REFRESH_MS, waitUntil)).denied,
    ).toBeUndefined();
    await Promise.all(background);
    // ...and the next one sees the change: a revision read and a load.
    expect((await screen.check({ ip: "192.0.2.1" }, T0 + LIST_REFRESH_MS + 1)).denied).toBe(
      "blocked",
    );
    expect(docs.calls).toBe(2);

    // Unchanged since: one small read per interval.
    await screen.check({ ip: "192.0.2.1" }, T0 + 2 * LIST_REFRESH_MS + 1, waitUntil);
    await Promise.all(background);
    expect(docs.calls).toBe(3);
  });

  it("drops an entry when it expires, without asking the store", async () => {
    const { docs, store, screen } = setup();
    const expiresAt = new Date(T0 + 5000).toISOString();
    await store.change(
      "blocked",
      { add: [entry("192.0.2.2", { expiresAt })], remove: [] },
      audit,
      T0,
    );
    expect((await screen.check({ ip: "192.0.2.2" }, T0)).denied).toBe("blocked");
    docs.calls = 0;
    expect((await screen.check({ ip: "192.0.2.2" }, T0 + 5000)).denied).toBeUndefined();
    expect(docs.calls).toBe(0);
  });

  it("applies a change made in this isolate at once, and no older load undoes it", async () => {
    const { store, screen } = setup();
    await screen.check({ ip: "192.0.2.3" }, T0);
    const change = await store.change(
      "blocked",
      { add: [entry("192.0.2.3")], remove: [] },
      audit,
      T0,
    );
    screen.apply(
      {
        revision: change.revision,
        entries: { ...screen.snapshot.entries, blocked: change.entries },
      },
      T0,
    );
    expect((await screen.check({ ip: "192.0.2.3" }, T0)).denied).toBe("blocked");
  });

  it("uses the policy's lists alone while the store cannot be read, and retries", async () => {
    const { docs, store, screen } = setup();
    await store.change("blocked", { add: [entry("192.0.2.4")], remove: [] }, audit, T0);
    docs.down = true;
    expect((await screen.check({ ip: "198.51.100.1" }, T0)).denied).toBe("blocked");
    expect((await screen.check({ ip: "192.0.2.4" }, T0)).denied).toBeUndefined();
    docs.down = false;
    const background: Promise<unknown>[] = [];
    await screen.check({ ip: "192.0.2.4" }, T0 + 5000, (p) => void background.push(p));
    await Promise.all(background);
    expect((await screen.check({ ip: "192.0.2.4" }, T0 + 5001)).denied).toBe("blocked");
  });
});

describe("ListStore", () => {
  it("adds, replaces and removes entries, counting what changed", async () => {
    const { store } = setup();
    const first = await store.change(
      "office",
      { add: [entry("10.1.0.0/16"), entry("192.0.2.9")], remove: [] },
      audit,
      T0,
    );
    expect(first).toMatchObject({ added: 2, removed: 0 });
    const again = await store.change(
      "office",
      {
        add: [entry("192.0.2.9", { reason: "moved" })],
        remove: [{ kind: "ip", value: "10.1.0.0/16" }],
      },
      audit,
      T0,
    );
    expect(again).toMatchObject({
      added: 1,
      removed: 1,
      entries: [{ value: "192.0.2.9", reason: "moved" }],
    });
    const loaded = await store.load(T0);
    expect(loaded.entries.office?.map((e) => e.value)).toEqual(["192.0.2.9"]);
    expect(loaded.revision).toBe(again.revision);
  });
});
