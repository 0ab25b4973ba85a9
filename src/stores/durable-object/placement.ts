/** @module stores/durable-object/placement — which object each rule's keys live in, so a decision is one call. */
import { APP_RULE } from "../../policy/protect.ts";
import type { Policy } from "../../policy/types.ts";

/**
 * Object names by key owner (the second field of a store key: a rule name,
 * `*` for the application-wide limits, `~<name>` for a shared limit). An
 * owner missing from it lives in its own object.
 */
export type Placement = ReadonlyMap<string, string>;

/**
 * Puts every owner that one decision can touch in one object: a rule with
 * the application-wide limits (which every decision carries), a rule with
 * each shared name it counts in, and so, transitively, every rule reachable
 * that way. A rule that touches nothing beyond itself keeps its own object.
 * The object is named for the group: `*` when the application-wide limits
 * are in it, else its first shared name.
 *
 * The gateway places by its stable policy alone: adding a canary moves no
 * state, and a canary decision whose limits the stable policy keeps apart
 * takes the split path. A policy change that joins or parts groups moves the
 * owners' counters to another object, which starts them afresh, as a change
 * of `store.shards` does.
 *
 * @example
 * placementOf([policy]).get("search"); // "~lookups", with a shared limit "lookups"
 */
export function placementOf(policies: readonly Policy[]): Placement {
  const parent = new Map<string, string>();
  const find = (a: string): string => {
    let root = a;
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root) as string;
    parent.set(a, root);
    return root;
  };
  const join = (a: string, b: string) => {
    const [ra, rb] = [find(a), find(b)];
    // The root is the group's name: `*` first, then a shared name, then the smaller.
    if (ra === rb) return;
    if (rank(ra) <= rank(rb)) parent.set(rb, ra);
    else parent.set(ra, rb);
  };
  for (const policy of policies) {
    const appWide = policy.limits.length > 0;
    for (const limit of policy.limits) {
      if (limit.shared !== null) join(APP_RULE, `~${limit.shared}`);
    }
    for (const rule of policy.rules) {
      if (appWide) join(rule.name, APP_RULE);
      for (const limit of rule.limits) {
        if (limit.shared !== null) join(rule.name, `~${limit.shared}`);
      }
    }
  }
  const placement = new Map<string, string>();
  for (const owner of parent.keys()) {
    const group = find(owner);
    if (group !== owner) placement.set(owner, group);
  }
  return placement;
}

/** Orders candidate group names: `*`, then shared names, then rules; ties by name. */
function rank(owner: string): string {
  const tier = owner === APP_RULE ? "0" : owner.startsWith("~") ? "1" : "2";
  return `${tier}${owner}`;
}

const NO_GROUPS: Placement = new Map();

/**
 * The object a key lives in: its owner's group's (the owner is the second
 * field of `<prefix>:<rule>:<limit>:<subject>`; see `placementOf`), and with
 * `shards` > 1 one of that many objects of the group, picked by FNV-1a of the
 * subject, so every limit of a group on one subject lands in one object.
 *
 * @example
 * objectFor("sluice:api:ip-1m:ip:203.0.113.7", 1); // "api"
 * objectFor("sluice:api:ip-1m:ip:203.0.113.7", 8); // "api#5" (say)
 * objectFor("sluice:api:ip-1m:ip:203.0.113.7", 1, new Map([["api", "*"]])); // "*"
 */
export function objectFor(key: string, shards: number, placement: Placement = NO_GROUPS): string {
  const fields = key.split(":");
  const owner = fields.length > 3 ? (fields[1] as string) : key;
  const group = placement.get(owner) ?? owner;
  if (shards <= 1) return group;
  const subject = fields.slice(3).join(":");
  let hash = 0x811c9dc5;
  for (let i = 0; i < subject.length; i++) {
    hash ^= subject.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${group}#${hash % shards}`;
}
