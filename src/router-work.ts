/**
 * The router's own work on the application's primary client: queries the router sends there that the primary's
 * query observer (src/prisma/engine-queries.ts) must not take for the application's — position queries through a
 * client (where the router has no connection of its own), classified raw reads it routed to the primary, the
 * mode statement of a read-only transaction. The router accounts for those itself.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

const storage = new AsyncLocalStorage<true>()

/**
 * Runs `send` as the router's own work: whatever it sends to the primary's engine while it runs (and in what it
 * starts: a Prisma query runs when its `then` is called, so call it inside) is not the application's.
 */
export function asRouterWork<T>(send: () => T): T {
  return storage.run(true, send)
}

/** True inside {@link asRouterWork}. */
export function isRouterWork(): boolean {
  return storage.getStore() === true
}
