import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * A unit of read-your-writes, typically one HTTP request: a write in a scope pins that scope's reads to the
 * primary for the sticky window; other scopes keep reading from replicas. Opaque.
 */
export class ReplicaScope {
  /** @internal Per-router state, keyed by router, so one scope serves every router it meets. */
  readonly state = new WeakMap<object, { lastWriteAt: number }>()
}

const storage = new AsyncLocalStorage<ReplicaScope>()

/**
 * Runs `callback` in a new, independent scope (AsyncLocalStorage) and returns its result. Everything the
 * callback awaits, starts or schedules belongs to that scope. Outside any scope, each extended client is
 * one shared scope of its own.
 *
 * @example Express
 * ```ts
 * app.use((req, res, next) => runInScope(next))
 * ```
 * @example Hono
 * ```ts
 * app.use((c, next) => runInScope(next))
 * ```
 */
export function runInScope<T>(callback: () => T): T {
  return storage.run(new ReplicaScope(), callback)
}

/** The scope the caller runs in, or `undefined` outside {@link runInScope}. */
export function currentScope(): ReplicaScope | undefined {
  return storage.getStore()
}
