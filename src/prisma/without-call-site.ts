import { recordsCallSites } from './internals.js'

/** Whether `Error.stackTraceLimit` can be set here (not in a hardened environment with a frozen `Error`). */
const settable = (() => {
  const descriptor = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')
  return descriptor?.writable === true || descriptor?.set !== undefined
})()

/**
 * Prisma records a call site (an `Error` with a stack, for the code location in its error messages) for every
 * query a model delegate creates, unless its error format is `minimal` (the NODE_ENV=production default). For a
 * query that the router creates on a replica's or the primary's client, that stack holds only router and Prisma
 * frames (Prisma prints no location from it: checked in test/prisma/fast-reads.db.test.ts), yet capturing it costs
 * several microseconds per read, more the deeper the stack. The router therefore creates its queries with stack
 * traces off; only that synchronous creation is affected, and the limit is restored at once. Replica reads skip
 * even that for a client in the `minimal` format (`ClientActions.recordsCallSites`): the save and restore of the
 * limit alone measured about 1–2 µs per read.
 */
export function withoutCallSite<T>(create: () => T): T {
  // A frozen `Error` (hardened environments): create as asked.
  if (!settable) return create()
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return create()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/**
 * `action` of `client`, creating its queries through {@link withoutCallSite} when the client records call
 * sites, else `action` itself (Prisma's `minimal` format records none: nothing to suppress, nothing to pay).
 * Decided once, when the action is wrapped.
 */
export function quietAction<A, R>(client: unknown, action: (args: A) => R): (args: A) => R {
  return recordsCallSites(client) ? (args) => withoutCallSite(() => action(args)) : action
}
