/** @module admin/routes/lists — runtime entries of the policy's lists: read, add (with a reason and an optional expiry), remove; audited. */
import { type Context, Hono } from "hono";
import { COUNTRY } from "../../policy/protect.ts";
import { TENANT_ID } from "../../policy/tenants.ts";
import type { ListSpec } from "../../policy/types.ts";
import { parseCidr } from "../../protect/cidr.ts";
import type { EntryRef, ListChange, ListEntry } from "../../protect/list-store.ts";
import { badRequest, missing } from "../../respond/problem.ts";
import { type AdminEnv, auditEntry, commit, jsonBody } from "../context.ts";
import { type Json, object, optionalFutureTime, requiredString } from "../input.ts";
import type { ListBody, ListsBody, ListView } from "../views.ts";

/** `/lists…` under the admin base. */
export const listRoutes = new Hono<AdminEnv>();

/** Entry fields, singular and plural, as the policy spells them. */
const ENTRY_FIELDS = [
  ["ip", "ips"],
  ["tenant", "tenants"],
  ["country", "countries"],
] as const;

listRoutes.get("/", async (c) => {
  const { policy, lists, clock } = c.var.admin;
  const snapshot = await lists.store.load(clock());
  const views = Object.entries(policy.lists).map(([name, spec]) =>
    view(name, spec, snapshot.entries[name] ?? []),
  );
  return c.json<ListsBody>({ lists: views });
});

listRoutes.get("/:name", async (c) => {
  const { lists, clock } = c.var.admin;
  const [name, spec] = declared(c);
  const snapshot = await lists.store.load(clock());
  return c.json<ListBody>({ list: view(name, spec, snapshot.entries[name] ?? []) });
});

listRoutes.post("/:name", async (c) => {
  const { clock } = c.var.admin;
  const [name, spec] = declared(c);
  const fields = ["reason", "expiresAt", ...ENTRY_FIELDS.flat()];
  const input = object(await jsonBody(c), fields);
  const nowMs = clock();
  const reason = requiredString(input, "reason", 200);
  const expiresAt = optionalFutureTime(input, "expiresAt", nowMs);
  const refs = entryRefs(c, input);
  const entry = auditEntry(c, "list.add", `list:${name}`, {
    entries: refs.map(label),
    reason,
    ...(expiresAt ? { expiresAt } : {}),
  });
  const add = refs.map((ref) => ({
    ...ref,
    reason,
    actor: entry.actor,
    createdAt: new Date(nowMs).toISOString(),
    ...(expiresAt ? { expiresAt } : {}),
  }));
  const done = await change(c, name, { add, remove: [] }, entry);
  return c.json<ListBody>({ list: view(name, spec, done.entries), added: add.length });
});

listRoutes.delete("/:name", async (c) => {
  const [name, spec] = declared(c);
  // The entries to remove come in the query (`?ip=…`) or, as for POST, in a JSON body.
  const query = Object.fromEntries(
    Object.entries(c.req.queries()).map(([k, v]) => [k, v.length === 1 ? v[0] : v]),
  );
  const given = Object.keys(query).length > 0 ? query : await jsonBody(c);
  const input = object(given, ENTRY_FIELDS.flat());
  const refs = entryRefs(c, input);
  const entry = auditEntry(c, "list.remove", `list:${name}`, { entries: refs.map(label) });
  const done = await change(c, name, { add: [], remove: refs }, entry);
  return c.json<ListBody>({ list: view(name, spec, done.entries), removed: done.removed });
});

/**
 * Stores the change with its audit entry, then shows this isolate's screen
 * the list's new entries at once; other isolates, and this one for other
 * lists, reload within their refresh (the revision it keeps is none, so the
 * next check loads).
 *
 * @throws {SluiceHttpError} 404 when nothing was removed, 400 past the entry cap, 503 when the store did not answer.
 */
async function change(
  c: Context<AdminEnv>,
  name: string,
  edit: { add: ListEntry[]; remove: EntryRef[] },
  entry: ReturnType<typeof auditEntry>,
): Promise<ListChange> {
  const { lists, clock } = c.var.admin;
  const nowMs = clock();
  // Removing nothing is refused before anything is written or audited.
  if (edit.remove.length > 0) {
    const current = (await lists.store.load(nowMs)).entries[name] ?? [];
    const present = edit.remove.filter((r) =>
      current.some((e) => e.kind === r.kind && e.value === r.value),
    );
    if (present.length === 0) {
      throw missing(`Entry ${edit.remove.map(label).join(", ")} of list ${JSON.stringify(name)}`);
    }
  }
  let result: ListChange | undefined;
  const write = async () => {
    try {
      result = await lists.store.change(name, edit, entry, nowMs);
    } catch (err) {
      if (err instanceof RangeError) throw badRequest("", err.message);
      throw err;
    }
  };
  await commit(c, entry, write, () => {
    if (!result) return;
    const entries = { ...lists.screen.snapshot.entries, [name]: result.entries };
    lists.screen.apply({ revision: null, entries }, nowMs);
  });
  return result as ListChange;
}

/**
 * The list named in the path, as the policy declares it.
 *
 * @throws {SluiceHttpError} 404 for a list the policy does not declare.
 */
function declared(c: Context<AdminEnv>): [string, ListSpec] {
  const name = c.req.param("name") ?? "";
  const spec = Object.hasOwn(c.var.admin.policy.lists, name)
    ? c.var.admin.policy.lists[name]
    : undefined;
  if (!spec) throw missing(`List ${JSON.stringify(name)} (lists are declared in the policy)`);
  return [name, spec];
}

/**
 * The entries named by `ip`/`ips`, `tenant`/`tenants` and `country`/`countries`,
 * each checked and made canonical.
 *
 * @throws {SluiceHttpError} 400 naming the field of a malformed entry, or when there is none.
 */
function entryRefs(c: Context<AdminEnv>, input: Json): EntryRef[] {
  const refs: EntryRef[] = [];
  for (const [one, many] of ENTRY_FIELDS) {
    const kind = one;
    for (const field of [one, many]) {
      const raw = input[field];
      if (raw === undefined) continue;
      const values = Array.isArray(raw) ? raw : [raw];
      for (const value of values) refs.push({ kind, value: canonical(c, kind, value, field) });
    }
  }
  if (refs.length === 0) {
    throw badRequest(
      "",
      'expected an entry: "ip", "tenant" or "country" (or "ips", "tenants", "countries")',
    );
  }
  return refs;
}

function canonical(
  c: Context<AdminEnv>,
  kind: EntryRef["kind"],
  value: unknown,
  field: string,
): string {
  if (typeof value !== "string") throw badRequest(field, "expected a string or a list of strings");
  if (kind === "ip") {
    const cidr = parseCidr(value);
    if (typeof cidr === "string") throw badRequest(field, `${JSON.stringify(value)}: ${cidr}`);
    return cidr.text;
  }
  if (kind === "country") {
    if (!COUNTRY.test(value))
      throw badRequest(
        field,
        `expected a two-character country code like "DE", got ${JSON.stringify(value)}`,
      );
    return value.toUpperCase();
  }
  if (!c.var.admin.policy.tenants.enabled) {
    throw badRequest(
      field,
      'tenant entries match issued keys, and the policy has no "tenants" section',
    );
  }
  if (!TENANT_ID.test(value))
    throw badRequest(field, `expected a tenant id, got ${JSON.stringify(value)}`);
  return value;
}

function label(ref: EntryRef): string {
  return `${ref.kind}:${ref.value}`;
}

function view(name: string, spec: ListSpec, entries: ListEntry[]): ListView {
  const { action, ips, tenants, countries } = spec;
  return { name, action, policy: { ips, tenants, countries }, entries };
}
