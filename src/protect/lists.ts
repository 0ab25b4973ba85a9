/** @module protect/lists — the policy's lists and their runtime entries, compiled for lookups: which lists a request is on. */
import type { ListSpec } from "../policy/types.ts";
import { type Address, CidrSet, parseCidr } from "./cidr.ts";
import type { ListEntry } from "./list-store.ts";

interface CompiledList {
  name: string;
  action: ListSpec["action"];
  ips: CidrSet;
  tenants: ReadonlySet<string>;
  countries: ReadonlySet<string>;
}

/**
 * Every list, static entries and runtime ones merged, ready for per-request
 * lookups: one binary search per list for an address, a set lookup for a
 * tenant or a country. Immutable; rebuilt when the runtime entries change or
 * one of them expires (`expiresAtMs`).
 *
 * @example
 * const lists = new CompiledLists(policy.lists, snapshot.entries, Date.now());
 * lists.membership(addressOf("198.51.100.7"), "DE"); // ["blocked"]
 */
export class CompiledLists {
  readonly #lists: CompiledList[];
  /** The first runtime entry's expiry after which this compilation is out of date. */
  readonly expiresAtMs: number;

  constructor(
    lists: Readonly<Record<string, ListSpec>>,
    runtime: Readonly<Record<string, readonly ListEntry[]>>,
    nowMs: number,
  ) {
    let expiresAtMs = Number.POSITIVE_INFINITY;
    this.#lists = Object.entries(lists).map(([name, spec]) => {
      const ips: string[] = [...spec.ips];
      const tenants = new Set(spec.tenants);
      const countries = new Set(spec.countries);
      for (const entry of runtime[name] ?? []) {
        const expires =
          entry.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(entry.expiresAt);
        if (expires <= nowMs) continue;
        expiresAtMs = Math.min(expiresAtMs, expires);
        if (entry.kind === "ip") ips.push(entry.value);
        else if (entry.kind === "tenant") tenants.add(entry.value);
        else countries.add(entry.value);
      }
      const parsed = ips.map((text) => parseCidr(text)).filter((c) => typeof c !== "string");
      return { name, action: spec.action, ips: CidrSet.from(parsed), tenants, countries };
    });
    this.expiresAtMs = expiresAtMs;
  }

  /** Names of the lists holding this address or country. */
  membership(address: Address | undefined, country: string | undefined): string[] {
    const out: string[] = [];
    for (const list of this.#lists) {
      if ((address && list.ips.has(address)) || (country && list.countries.has(country))) {
        out.push(list.name);
      }
    }
    return out;
  }

  /** Names of the lists holding this tenant. */
  tenantMembership(tenant: string): string[] {
    return this.#lists.filter((l) => l.tenants.has(tenant)).map((l) => l.name);
  }

  /** The first of `names` with this action. */
  withAction(names: readonly string[], action: "allow" | "deny"): string | undefined {
    return names.find((name) => this.#lists.find((l) => l.name === name)?.action === action);
  }
}
