/** @module test/workerd/directory — directory writes are compare-and-set on both stores. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  DurableObjectDocumentStore,
  type SluiceDirectory,
} from "../../src/stores/durable-object/document-store.ts";
import { createUpstashClient } from "../../src/stores/redis/client.ts";
import { RedisDocumentStore } from "../../src/stores/redis/document-store.ts";
import { Directory, DirectoryConflict } from "../../src/tenants/directory.ts";
import type { DocumentStore } from "../../src/tenants/document-store.ts";
import type { AuditEntry, Tenant } from "../../src/tenants/types.ts";
import { STORES, type StoreKind, uniquePrefix } from "./helpers.ts";

function docs(kind: StoreKind): DocumentStore {
  return kind === "redis"
    ? new RedisDocumentStore(
        createUpstashClient(env.TEST_REDIS_URL, env.TEST_REDIS_TOKEN, 1000, { raw: true }),
        { timeoutMs: 1000 },
      )
    : new DurableObjectDocumentStore(
        env.SLUICE_DIRECTORY as unknown as DurableObjectNamespace<SluiceDirectory>,
        { timeoutMs: 1000 },
      );
}

const entry = (action: string): AuditEntry => ({
  at: "2026-12-01T00:00:00.000Z",
  actor: "test",
  ip: "",
  action,
  target: "tenant:acme",
  details: {},
});

describe.each(STORES)("directory writes, %s store", (kind) => {
  it("refuse a change based on a stale read, and a second create, writing nothing", async () => {
    const dir = new Directory(docs(kind), `dir-${uniquePrefix()}`);
    const created: Tenant = {
      id: "acme",
      plan: "free",
      disabled: false,
      createdAt: "2026-12-01T00:00:00.000Z",
      overrides: [],
    };
    await dir.saveTenant(created, entry("tenant.create"));
    await expect(dir.saveTenant(created, entry("tenant.create"))).rejects.toThrow(
      DirectoryConflict,
    );

    // Two admins read the same tenant; the first change lands, the second must not undo it.
    const readByA = (await dir.getTenant("acme")) as Tenant;
    const readByB = (await dir.getTenant("acme")) as Tenant;
    await dir.saveTenant({ ...readByA, plan: "pro" }, entry("tenant.update"), readByA);
    await expect(
      dir.saveTenant({ ...readByB, name: "Acme" }, entry("tenant.update"), readByB),
    ).rejects.toThrow(DirectoryConflict);
    expect(await dir.getTenant("acme")).toEqual({ ...created, plan: "pro" });
    expect((await dir.audit(10)).map((e) => e.action)).toEqual(["tenant.update", "tenant.create"]);

    // Read again and retry: it lands.
    const fresh = (await dir.getTenant("acme")) as Tenant;
    await dir.saveTenant({ ...fresh, name: "Acme" }, entry("tenant.update"), fresh);
    expect(await dir.getTenant("acme")).toMatchObject({ plan: "pro", name: "Acme" });
  });
});
