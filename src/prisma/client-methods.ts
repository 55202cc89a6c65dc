/**
 * The routed client's own methods (`$primary`, `$replica`, `$consistencyToken`, `$routerStats`,
 * `$replicaStatus`) and its `$connect`, `$disconnect` and `$transaction`.
 */
import { Prisma } from '@prisma/client/extension'
import { encodeConsistencyToken } from '../consistency-token.js'
import { NoReplicaAvailableError, ReplicaInTransactionError, UnknownReplicaError } from '../errors/index.js'
import type { ReplicaStatus } from '../health-event.js'
import type { RouterStats } from '../router.js'
import type { Routing } from '../routing.js'
import type { ForcedClients } from './forced-clients.js'
import { isTransactionClient } from './internals.js'
import { withTransaction } from './route-query.js'
import type { AnyClient } from './types.js'

/** The methods, for the client under the router (`under`). */
export function clientMethods({ router, monitor }: Routing, under: AnyClient, forced: ForcedClients) {
  return withTransaction(router, under, {
    /** The primary: bypasses routing. Inside a transaction, returns the transaction client itself. */
    $primary<T extends object>(this: T): Omit<T, '$primary' | '$replica'> {
      const context = Prisma.getExtensionContext(this)
      if (isTransactionClient(context)) return context
      return forced.primary() as unknown as Omit<T, '$primary' | '$replica'>
    },

    /**
     * A replica, ignoring stickiness: the one named (whatever its health), else one in rotation chosen by
     * the policy for each query. Model writes through it throw `ReplicaWriteError`; raw queries run on the
     * replica. Its `$transaction(fn, options)` is a read-only transaction on one snapshot: on the named
     * replica, else on a replica that can serve the scope's reads (read-your-writes), else on the primary.
     * @throws {ReplicaInTransactionError} inside a transaction.
     * @throws {UnknownReplicaError} for a name that is not configured.
     * @throws {NoReplicaAvailableError} without a name, when no replica is in rotation.
     */
    $replica<T extends object>(this: T, name?: string): Omit<T, '$primary' | '$replica'> {
      const context = Prisma.getExtensionContext(this)
      if (isTransactionClient(context)) throw new ReplicaInTransactionError()
      // A name that is not a string is unknown too (the error describes it without showing a string).
      if (name !== undefined && typeof name !== 'string') throw new UnknownReplicaError(name, router.set.names)
      if (name === undefined && router.set.inRotation === 0) throw new NoReplicaAvailableError(undefined, '$replica', router.set.states())
      return forced.replica(name === undefined ? undefined : router.set.byName(name)) as unknown as Omit<T, '$primary' | '$replica'>
    },

    /**
     * A compact token for the current scope's last write (WAL position + time), for a cookie or header of the
     * next request, maybe served by another app instance: `runInScope(next, { token })` reads that write.
     * `undefined` when the scope has written nothing. Costs at most one round trip to the primary.
     */
    async $consistencyToken(): Promise<string | undefined> {
      const point = await router.consistencyPoint()
      return point && encodeConsistencyToken(point)
    },

    /** Router-wide counters: read-your-writes round trips, retries, fallbacks, and the sticky mode in force. */
    $routerStats(): RouterStats {
      return router.stats()
    },

    /** Health, lag and counters of every replica. */
    $replicaStatus(): ReplicaStatus[] {
      return router.set.status()
    },

    /** Connects the primary and every replica, and starts the health check. */
    async $connect(): Promise<void> {
      monitor.ensureStarted()
      await monitor.sent(Promise.all([under.$connect(), ...router.replicas.map((r) => r.client.$connect())]))
    },

    /**
     * Stops the health check and closes the router's own connections, then disconnects the primary and every
     * replica. Never waits for a frozen replica: a replica's client is waited for until its reads in flight
     * have ended or been given up (`readTimeoutMs`), then at most half a second more.
     */
    async $disconnect(): Promise<void> {
      await monitor.stop()
      await Promise.all([under.$disconnect(), router.set.disconnect()])
    },
  })
}
