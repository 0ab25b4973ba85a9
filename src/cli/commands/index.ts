/** @module cli/commands — the command table, in the order help lists it. */
import type { Command } from "../command.ts";
import { keysCreate, keysList, keysRevoke } from "./keys.ts";
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
  usage,
  reset,
  audit,
  policyCheck,
  policyDiff,
  policyReplay,
];
