/** @module test/node/tenants/directory-replies — a store reply of the wrong shape is a store failure, never a 500 or a bogus record (audit F3). */
import { describe, expect, it } from "vitest";
import { StoreError } from "../../../src/limiter/types.ts";
import { Directory } from "../../../src/tenants/directory.ts";
import type { DocumentStore } from "../../../src/tenants/document-store.ts";
import type { AuditEntry } from "../../../src/tenants/types.ts";

/** A document store whose every call answers `reply` (or throws it). */
function answering(reply: () => unknown): DocumentStore {
  const call = async () => reply();
  return {
    kind: "redis",
    get: call as DocumentStore["get"],
    members: call as DocumentStore["members"],
    recent: call as DocumentStore["recent"],
    write: call as DocumentStore["write"],
  };
}

const entry: AuditEntry = {
  at: "2026-12-01T00:00:00.000Z",
  actor: "t",
  ip: "",
  action: "x",
  target: "y",
  details: {},
};

const calls: [string, (d: Directory) => Promise<unknown>][] = [
  ["getTenant", (d) => d.getTenant("acme")],
  ["listTenants", (d) => d.listTenants()],
  ["findKey", (d) => d.findKey("a".repeat(64))],
  ["getKeyById", (d) => d.getKeyById("0123456789abcdef")],
  ["listKeys", (d) => d.listKeys()],
  ["audit", (d) => d.audit(10)],
  ["recordAudit", (d) => d.recordAudit(entry)],
];

describe("the directory on replies of the wrong shape", () => {
  const garbage: [string, unknown][] = [
    ["a string", "garbage"],
    ["null", null],
    ["a number", 42],
    ["an object", { result: "x" }],
    ["an array of numbers", [1, 2]],
    ["an array of objects", [{}, {}]],
  ];
  for (const [what, value] of garbage) {
    it.each(calls)(`%s fails as a store error on ${what}`, async (_name, call) => {
      const dir = new Directory(
        answering(() => value),
        "ns",
      );
      await expect(call(dir)).rejects.toBeInstanceOf(StoreError);
    });
  }

  it.each(calls)(
    "%s turns a throw inside the store's own reply handling into a store error",
    async (_n, call) => {
      const dir = new Directory(
        answering(() => {
          throw new TypeError("values.map is not a function");
        }),
        "ns",
      );
      await expect(call(dir)).rejects.toMatchObject({ name: "StoreError", reason: "error" });
    },
  );

  it.each([
    ["a list", "[1,2]"],
    ["not JSON", "{nope"],
    ["a tenant without its fields", '{"id":"acme"}'],
  ])("refuses a stored record that is %s", async (_what, raw) => {
    const dir = new Directory(
      answering(() => [raw]),
      "ns",
    );
    await expect(dir.getTenant("acme")).rejects.toBeInstanceOf(StoreError);
    await expect(dir.findKey("a".repeat(64))).rejects.toBeInstanceOf(StoreError);
  });

  it("still reads absent records as absent", async () => {
    const dir = new Directory(
      answering(() => [null]),
      "ns",
    );
    expect(await dir.getTenant("acme")).toBeUndefined();
    expect(await dir.getKeyById("0123456789abcdef")).toBeUndefined();
  });
});
