/** @module types/worker-async-hooks — the one `node:async_hooks` API the Worker uses, for the Worker's type check (which has no Node types); workerd provides it natively. */
declare module "node:async_hooks" {
  export class AsyncLocalStorage<T> {
    run<R>(store: T, callback: () => R): R;
    getStore(): T | undefined;
  }
}
