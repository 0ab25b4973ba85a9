/** @module stores/durable-object/stub — one budgeted RPC to a named Durable Object. */
import { withBudget } from "../budget.ts";

/** Calls one RPC method on the object named `name`, within the store's time budget. */
export type ObjectCall<O extends Rpc.DurableObjectBranded | undefined> = <T>(
  name: string,
  rpc: (stub: DurableObjectStub<O>) => unknown,
) => Promise<T>;

/**
 * Binds a namespace and a time budget: each call takes a fresh stub (a stub is
 * tied to the request that made it) and settles within `timeoutMs`, as
 * `StoreError("timeout" | "error")` when it cannot.
 *
 * @example
 * const call = budgetedCall(env.SLUICE_STORE, 250);
 * const decision = await call<Decision>("api", (stub) => stub.decide(req));
 */
export function budgetedCall<O extends Rpc.DurableObjectBranded | undefined>(
  ns: DurableObjectNamespace<O>,
  timeoutMs: number,
): ObjectCall<O> {
  return <T>(name: string, rpc: (stub: DurableObjectStub<O>) => unknown) =>
    withBudget(Promise.resolve(rpc(ns.getByName(name))) as Promise<T>, timeoutMs);
}
