/** @module cli/commands — the command table, in the order help lists it. */
import type { Command } from "../command.ts";
import { bansLift, bansList } from "./bans.ts";
import { keysCreate, keysList, keysRevoke } from "./keys.ts";
import { listsAdd, listsList, listsRemove, listsShow } from "./lists.ts";
import { policyCheck } from "./policy.ts";
import { policyDiff, policyReplay } from "./rollout.ts";
import { audit, reset, usage } from "./subjects.ts";
import {
  tenantsCreate,
  tenantsList,
  tenantsOverride,
  tenantsShow,
  tenantsUpdate,
} from "./tenants.ts";

export const COMMANDS: readonly Command[] = [
  keysCreate,
  keysList,
  keysRevoke,
  tenantsList,
  tenantsCreate,
  tenantsShow,
  tenantsUpdate,
  tenantsOverride,
  listsList,
  listsShow,
  listsAdd,
  listsRemove,
  bansList,
  bansLift,
  usage,
  reset,
  audit,
  policyCheck,
  policyDiff,
  policyReplay,
];
