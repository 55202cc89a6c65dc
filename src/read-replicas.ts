import { Prisma } from '@prisma/client/extension'
import { describeValue } from './describe-value.js'
import { ReplicaInTransactionError, ReplicaWriteError } from './errors.js'
import { modelProperty, READ_OPERATIONS } from './operations.js'
import { resolveOptions, type ReadReplicasOptions } from './options.js'
import { fluentPath, isInTransaction, isTransactionClient, unpackFluent } from './prisma-internals.js'
import { Router, type ReplicaState } from './router.js'

/** What a query extension callback receives (the public part). */
interface QueryParams {
  readonly model?: string
  readonly operation: string
  readonly args: unknown
  readonly query: (args: unknown) => Promise<unknown>
}

type AnyClient = Record<string, unknown> & {
  $extends(extension: object): AnyClient
  $connect(): Promise<void>
  $disconnect(): Promise<void>
}

type Delegate = Record<string, (args: unknown) => Promise<unknown>>

async function settle<T>(router: Router, promise: PromiseLike<T>): Promise<T> {
  router.markWrite()
  try {
    return await promise
  } finally {
    // The window runs from the end of the write, when its effects are committed (or never will be).
    router.markWrite()
  }
}

async function readOnReplica(replica: ReplicaState, model: string, params: QueryParams): Promise<unknown> {
  const delegate = (replica.client as unknown as Record<string, Delegate | undefined>)[modelProperty(model)]
  const run = delegate?.[params.operation]
  if (!run) throw new TypeError(`Replica \`${replica.name}\` has no \`${model}.${params.operation}\``)
  replica.inFlight++
  try {
    const result = await run(params.args)
    const path = fluentPath(params)
    return path ? unpackFluent(result, path) : result
  } finally {
    replica.inFlight--
  }
}

/**
 * A Prisma Client extension that sends reads to read replicas and everything else to the primary, with
 * read-your-writes through a sticky window. Apply it last, after extensions that rewrite query arguments
 * (soft delete, row-level filters), so that replicas receive the rewritten arguments.
 *
 * @example
 * ```ts
 * const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: PRIMARY_URL }) })
 *   .$extends(readReplicas({ replicas: [replica1, { client: replica2, name: 'replica-b', weight: 2 }] }))
 * ```
 * @throws {InvalidOptionError} at once, when an option is invalid.
 */
export function readReplicas(options: ReadReplicasOptions) {
  const resolved = resolveOptions(options)

  return Prisma.defineExtension((base) => {
    const client = base as unknown as AnyClient
    const router = new Router(resolved)

    /** `$primary()`: the base client, reporting `forced-primary`; writes through it open the sticky window. */
    const primary = client.$extends({
      name: 'prisma-replica-router/primary',
      query: {
        $allOperations(params: QueryParams) {
          router.emit(params.model, params.operation, 'forced-primary')
          const isRead = params.model !== undefined && READ_OPERATIONS.has(params.operation)
          return isRead ? params.query(params.args) : settle(router, params.query(params.args))
        },
      },
    })

    /** `$replica(name)`: each replica's own client, refusing model writes before any network I/O. */
    const forcedReplicas = new Map(
      router.replicas.map((replica) => [
        replica,
        (replica.client as unknown as AnyClient).$extends({
          name: 'prisma-replica-router/replica',
          query: {
            async $allOperations(params: QueryParams) {
              if (params.model !== undefined && !READ_OPERATIONS.has(params.operation)) {
                throw new ReplicaWriteError(params.model, params.operation, replica.name)
              }
              router.emit(params.model, params.operation, 'forced-replica', replica)
              replica.inFlight++
              try {
                return await params.query(params.args)
              } finally {
                replica.inFlight--
              }
            },
          },
        }),
      ]),
    )

    return base.$extends({
      name: 'prisma-replica-router',
      client: {
        /** The primary: bypasses routing. Inside a transaction, returns the transaction client itself. */
        $primary<T extends object>(this: T): Omit<T, '$primary' | '$replica'> {
          const context = Prisma.getExtensionContext(this)
          if (isTransactionClient(context)) return context
          return primary as unknown as Omit<T, '$primary' | '$replica'>
        },

        /**
         * A replica, ignoring stickiness: the one named, else one chosen by the policy.
         * Model writes through it throw `ReplicaWriteError`; raw queries run on the replica.
         * @throws {ReplicaInTransactionError} inside a transaction.
         * @throws {UnknownReplicaError} for a name that is not configured.
         */
        $replica<T extends object>(this: T, name?: string): Omit<T, '$primary' | '$replica'> {
          const context = Prisma.getExtensionContext(this)
          if (isTransactionClient(context)) throw new ReplicaInTransactionError()
          if (name !== undefined && typeof name !== 'string') {
            throw new TypeError(`Expected \`name\` to be a string, got ${describeValue(name)}`)
          }
          const replica =
            name === undefined ? router.pick({ model: undefined, operation: '$replica' }) : router.byName(name)
          return forcedReplicas.get(replica) as unknown as Omit<T, '$primary' | '$replica'>
        },

        /** Connects the primary and every replica. */
        async $connect(): Promise<void> {
          await Promise.all([client.$connect(), ...router.replicas.map((r) => r.client.$connect())])
        },

        /** Disconnects the primary and every replica. */
        async $disconnect(): Promise<void> {
          await Promise.all([client.$disconnect(), ...router.replicas.map((r) => r.client.$disconnect())])
        },
      },

      query: {
        $allOperations(prismaParams) {
          const params = prismaParams as unknown as QueryParams
          const { model, operation } = params
          if (isInTransaction(params)) {
            router.emit(model, operation, 'transaction')
            return settle(router, params.query(params.args))
          }
          if (model === undefined) {
            router.emit(model, operation, 'raw')
            return settle(router, params.query(params.args))
          }
          if (!READ_OPERATIONS.has(operation)) {
            router.emit(model, operation, 'write')
            return settle(router, params.query(params.args))
          }
          if (router.isSticky()) {
            router.emit(model, operation, 'sticky')
            return params.query(params.args)
          }
          const replica = router.pick({ model, operation })
          router.emit(model, operation, 'read', replica)
          return readOnReplica(replica, model, params)
        },
      },
    })
  })
}
