/** @module admin/views — the admin API's answers as types: the routes build them, the CLI reads them. */
import type { ListSpec } from "../policy/types.ts";
import type { ListEntry } from "../protect/list-store.ts";
import type { AuditEntry, KeyRecord, Tenant } from "../tenants/types.ts";

export interface TenantBody {
  tenant: Tenant;
}
export interface TenantsBody {
  tenants: Tenant[];
}
export interface KeyBody {
  key: KeyRecord;
}
export interface KeysBody {
  keys: KeyRecord[];
}
/** The only answer that carries a key's secret. */
export interface NewKeyBody {
  key: KeyRecord;
  secret: string;
}
/** One limit's counter, read without consuming. */
export interface UsageLimit {
  rule: string;
  limit: string;
  count: number;
  periodMs: number;
  /** Capacity in units: `remaining` is out of this (older gateways omit it: then `count`). */
  burst?: number;
  remaining: number;
  resetMs: number;
  /** Set on Sluice's own counters (failed keys, failed admin tokens): what they count. */
  internal?: string;
}
/** Other subjects the same requests are counted as, by kind, and the rules that count them. */
export interface CountedElsewhere {
  by: string;
  rules: string[];
  /** The subject to ask `usage` about, when the gateway knows it (a key's tenant). */
  subject?: string;
}
export interface UsageBody {
  subject: string;
  limits: UsageLimit[];
  elsewhere?: CountedElsewhere[];
}
export interface ResetBody {
  subject: string;
  cleared: number;
}
export interface AuditBody {
  entries: AuditEntry[];
}

/** A list as the admin API shows it: the policy's entries and the runtime ones. */
export interface ListView {
  name: string;
  action: ListSpec["action"];
  policy: { ips: string[]; tenants: string[]; countries: string[] };
  entries: ListEntry[];
}
export interface ListsBody {
  lists: ListView[];
}
export interface ListBody {
  list: ListView;
  added?: number;
  removed?: number;
}
/** Entries to add or remove, as the policy spells a list's fields. */
export interface ListEntries {
  ips?: string[];
  tenants?: string[];
  countries?: string[];
}
/** A ban in force; a key's subject by its key id, never its full hash. */
export interface BanView {
  rule: string;
  subject: string;
  level: number;
  until: string;
  /** Seconds until it ends, rounded up. */
  retryAfter: number;
}
export interface BansBody {
  bans: BanView[];
}
export interface LiftBody {
  subject: string;
  lifted: BanView[];
}
