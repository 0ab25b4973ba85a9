/** @module cli/api — the admin API's routes as typed methods; the answers are typed where the routes build them (admin/views.ts). */
import type {
  AuditBody,
  BansBody,
  KeyBody,
  KeysBody,
  LiftBody,
  ListBody,
  ListEntries,
  ListsBody,
  NewKeyBody,
  ResetBody,
  TenantBody,
  TenantsBody,
  UsageBody,
} from "../admin/views.ts";
import type { KeyRecord, Override, Tenant } from "../tenants/types.ts";
import type { AdminClient } from "./client.ts";
import { CliError } from "./errors.ts";

/** The answers' types, as the admin routes build them. */
export type * from "../admin/views.ts";

export type NewTenant = Pick<Tenant, "id" | "plan" | "name">;
export type TenantChange = Partial<Pick<Tenant, "plan" | "name" | "disabled">>;
export type NewOverride = Pick<Override, "rate" | "reason" | "expiresAt">;
export type NewKey = Pick<KeyRecord, "tenant" | "name" | "expiresAt">;

const seg = encodeURIComponent;

/**
 * Typed calls to `/__sluice/admin/*`.
 *
 * @example
 * const api = new AdminApi(client);
 * const { tenant } = await api.createTenant({ id: "acme", plan: "pro" });
 */
export class AdminApi {
  readonly #client: AdminClient;

  constructor(client: AdminClient) {
    this.#client = client;
  }

  listTenants(): Promise<TenantsBody> {
    return this.#client.call<TenantsBody>("GET", "tenants", undefined, "tenants");
  }

  getTenant(id: string): Promise<TenantBody> {
    return this.#client.call<TenantBody>("GET", `tenants/${seg(id)}`, undefined, "tenant");
  }

  /** The tenant, or undefined when the gateway says it does not exist. */
  async findTenant(id: string): Promise<Tenant | undefined> {
    try {
      return (await this.getTenant(id)).tenant;
    } catch (err) {
      const notFound =
        err instanceof CliError && err.details.problem?.type.endsWith("/admin-not-found");
      if (notFound) return undefined;
      throw err;
    }
  }

  createTenant(input: NewTenant): Promise<TenantBody> {
    return this.#client.call<TenantBody>("POST", "tenants", input, "tenant");
  }

  updateTenant(id: string, change: TenantChange): Promise<TenantBody> {
    return this.#client.call<TenantBody>("PATCH", `tenants/${seg(id)}`, change, "tenant");
  }

  setOverride(id: string, limit: string, input: NewOverride): Promise<TenantBody> {
    const path = `tenants/${seg(id)}/overrides/${seg(limit)}`;
    return this.#client.call<TenantBody>("PUT", path, input, "tenant");
  }

  removeOverride(id: string, limit: string): Promise<TenantBody> {
    const path = `tenants/${seg(id)}/overrides/${seg(limit)}`;
    return this.#client.call<TenantBody>("DELETE", path, undefined, "tenant");
  }

  createKey(input: NewKey): Promise<NewKeyBody> {
    return this.#client.call<NewKeyBody>("POST", "keys", input, "secret");
  }

  listKeys(tenant?: string): Promise<KeysBody> {
    const query = tenant === undefined ? "" : `?tenant=${seg(tenant)}`;
    return this.#client.call<KeysBody>("GET", `keys${query}`, undefined, "keys");
  }

  revokeKey(id: string): Promise<KeyBody> {
    return this.#client.call<KeyBody>("POST", `keys/${seg(id)}/revoke`, undefined, "key");
  }

  usage(subject: string): Promise<UsageBody> {
    return this.#client.call<UsageBody>(
      "GET",
      `usage?subject=${seg(subject)}`,
      undefined,
      "limits",
    );
  }

  reset(subject: string): Promise<ResetBody> {
    return this.#client.call<ResetBody>("POST", "reset", { subject }, "cleared");
  }

  listLists(): Promise<ListsBody> {
    return this.#client.call<ListsBody>("GET", "lists", undefined, "lists");
  }

  getList(name: string): Promise<ListBody> {
    return this.#client.call<ListBody>("GET", `lists/${seg(name)}`, undefined, "list");
  }

  addToList(
    name: string,
    input: ListEntries & { reason: string; expiresAt?: string },
  ): Promise<ListBody> {
    return this.#client.call<ListBody>("POST", `lists/${seg(name)}`, input, "list");
  }

  removeFromList(name: string, entries: ListEntries): Promise<ListBody> {
    return this.#client.call<ListBody>("DELETE", `lists/${seg(name)}`, entries, "list");
  }

  listBans(rule?: string): Promise<BansBody> {
    const query = rule === undefined ? "" : `?rule=${seg(rule)}`;
    return this.#client.call<BansBody>("GET", `bans${query}`, undefined, "bans");
  }

  liftBan(subject: string, rule?: string): Promise<LiftBody> {
    const query = rule === undefined ? "" : `?rule=${seg(rule)}`;
    return this.#client.call<LiftBody>(
      "DELETE",
      `bans/${seg(subject)}${query}`,
      undefined,
      "lifted",
    );
  }

  audit(limit: number): Promise<AuditBody> {
    return this.#client.call<AuditBody>("GET", `audit?limit=${limit}`, undefined, "entries");
  }
}
