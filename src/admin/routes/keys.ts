/** @module admin/routes/keys — API keys: issue (the secret is shown once), list, revoke. */
import { Hono } from "hono";
import { missing } from "../../respond/problem.ts";
import { mintKey } from "../../tenants/api-keys.ts";
import type { KeyRecord } from "../../tenants/types.ts";
import { type AdminEnv, auditEntry, commit, jsonBody, tenantOr404 } from "../context.ts";
import { object, optionalFutureTime, optionalString, requiredString } from "../input.ts";
import type { KeyBody, KeysBody, NewKeyBody } from "../views.ts";

const KEY_ID = /^[0-9a-f]{16}$/;

/** `/keys…` under the admin base. */
export const keyRoutes = new Hono<AdminEnv>();

keyRoutes.post("/", async (c) => {
  const { directory, policy, resolver, clock } = c.var.admin;
  const input = object(await jsonBody(c), ["tenant", "name", "expiresAt"]);
  const tenant = await tenantOr404(c, requiredString(input, "tenant", 64));
  const name = optionalString(input, "name", 200);
  const expiresAt = optionalFutureTime(input, "expiresAt", clock());
  const minted = await mintKey(policy.tenants.keyPrefix);
  const key: KeyRecord = {
    id: minted.id,
    tenant: tenant.id,
    prefix: minted.prefix,
    ...(name ? { name } : {}),
    createdAt: new Date(clock()).toISOString(),
    ...(expiresAt ? { expiresAt } : {}),
    disabled: false,
  };
  const entry = auditEntry(c, "key.create", `key:${key.id}`, {
    tenant: tenant.id,
    prefix: key.prefix,
    ...(expiresAt ? { expiresAt } : {}),
  });
  await commit(
    c,
    entry,
    () => directory.saveKey(minted.hash, key, entry),
    () => resolver?.forget({ hash: minted.hash }),
  );
  return c.json<NewKeyBody, 201>({ key, secret: minted.secret }, 201);
});

keyRoutes.get("/", async (c) => {
  const tenant = c.req.query("tenant");
  if (tenant !== undefined) await tenantOr404(c, tenant);
  return c.json<KeysBody>({ keys: await c.var.admin.directory.listKeys(tenant) });
});

keyRoutes.post("/:id/revoke", async (c) => {
  const { directory, resolver, clock } = c.var.admin;
  const id = c.req.param("id");
  const found = KEY_ID.test(id) ? await directory.getKeyById(id) : undefined;
  if (!found) throw missing(`Key ${JSON.stringify(id)}`);
  const key: KeyRecord = found.key.disabled
    ? found.key
    : { ...found.key, disabled: true, revokedAt: new Date(clock()).toISOString() };
  const entry = auditEntry(c, "key.revoke", `key:${id}`, { tenant: key.tenant });
  await commit(
    c,
    entry,
    () => directory.saveKey(found.hash, key, entry, found.key),
    () => resolver?.forget({ hash: found.hash }),
  );
  return c.json<KeyBody>({ key });
});
