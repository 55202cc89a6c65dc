/**
 * The Prisma Client extension, wiring only: options validated, the routing parts made (src/routing.ts), and the
 * router applied over the client with its methods (src/prisma/client-methods.ts), its query component
 * (src/prisma/route-query.ts), composition with other extensions (src/prisma/composition.ts) and the fast read
 * path where it applies (src/prisma/fast-reads.ts). src/README.md maps the rest.
 */
import { Prisma } from '@prisma/client/extension'
import { InvalidOptionError } from './errors/index.js'
import { type PrismaClientLike, resolveOptions, type ReadReplicasOptions } from './options.js'
import { clientMethods } from './prisma/client-methods.js'
import { ROUTER_EXTENSION, extensionsUnder, readsChangedOnlyByQueries, readsUnchangedBy, routerOnTop, shapesUnder } from './prisma/composition.js'
import { withFastReads } from './prisma/fast-reads.js'
import { ForcedClients } from './prisma/forced-clients.js'
import { type ExtensionArgs, hasNoExtensions, recordsCallSites, runsRequests, setAppliedParent } from './prisma/internals.js'
import { modelProperty } from './prisma/operations.js'
import { fastPrimaryOnly, fastReads, routeQuery } from './prisma/route-query.js'
import type { AnyClient, QueryParams } from './prisma/types.js'
import { createRouting, type Routing } from './routing.js'

/** Every model named in `rules` is one of the client's. */
function checkRuleModels(client: AnyClient, rules: ReadonlyMap<string, unknown>): void {
  for (const model of rules.keys()) {
    const delegate = client[modelProperty(model)] as { findMany?: unknown } | undefined
    if (typeof delegate?.findMany !== 'function') {
      throw new InvalidOptionError(`rules.${model}`, `Unknown model \`${model}\` in \`rules\`: this client has no \`${modelProperty(model)}\` model`)
    }
  }
}

/**
 * A Prisma Client extension that sends reads to read replicas and everything else to the primary, with
 * read-your-writes through a sticky window, and replica health: a replica that fails or lags leaves rotation,
 * and a read that fails on a replica at the connection level is retried elsewhere. Apply it before or after other
 * extensions: it stays the last query extension (extensions applied to the routed client go under it, see
 * src/prisma/composition.ts), so replicas receive arguments rewritten by soft-delete or tenant filters, and computed
 * fields work on replica reads. Applied to a client with no extension, model reads take a fast path
 * (src/prisma/fast-reads.ts) that skips the extended client's own request pipeline.
 *
 * @example
 * ```ts
 * const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: PRIMARY_URL }) })
 *   .$extends(readReplicas({ replicas: [replica1, { client: replica2, name: 'replica-b', weight: 2 }] }))
 * ```
 * @typeParam Model - the schema's model names (`Prisma.ModelName`), to type-check the keys of `rules`.
 * @throws {InvalidOptionError} at once, when an option is invalid.
 */
export function readReplicas<Model extends string = string>(options: ReadReplicasOptions<Model>) {
  const resolved = resolveOptions(options)

  return Prisma.defineExtension((base) => {
    checkRuleModels(base as unknown as AnyClient, resolved.rules)
    const routing = createRouting(resolved, base as unknown as PrismaClientLike)

    // Declared apart, typed, so that the routed client's type is inferred from `routedOver` without recursion.
    const over: { routed: (under: typeof base, parent: object) => object } = { routed: () => ({}) }
    /**
     * The router applied to `under` (the client it extends, or that client with extensions applied to the routed
     * client later: see src/prisma/composition.ts), answering `$extends` by going under again. `parent`: the
     * routed client an extension was applied to, when `under` carries it (its `$parent`).
     */
    const routedOver = (under: typeof base, parent?: object) => {
      const underClient = under as unknown as AnyClient
      const extensions = extensionsUnder(underClient)
      // Computed fields under the router: replica reads ask for what they need (src/prisma/computed-fields.ts).
      const shapes = shapesUnder(underClient, extensions)
      const extended = under.$extends({
        name: ROUTER_EXTENSION,
        client: clientMethods(routing, underClient, new ForcedClients(routing, underClient, shapes)),
        query: {
          $allOperations(params) {
            // A thenable (a query in a transaction is handed back as it is: see Router.transactionQuery).
            return routeQuery(routing, params as unknown as QueryParams, shapes) as Promise<unknown>
          },
        },
      })
      if (parent) setAppliedParent(extended, parent)
      return routerOnTop(withFastPath(routing, extended, underClient, extensions), (extension, routedClient) =>
        over.routed(underClient.$extends(extension) as unknown as typeof base, routedClient),
      )
    }
    over.routed = routedOver

    return routedOver(base)
  })
}

/**
 * `extended` with the fast path for model reads (src/prisma/fast-reads.ts) when it applies: nothing under the
 * router changes model reads (no extension, or only client and model methods), so reads may skip the extended
 * client's pipeline; or only query components do, and the fast path runs their callbacks itself, then routes
 * (src/prisma/query-chain.ts). Else `extended` itself. (An unreadable extension list is empty: then only a bare
 * client takes the fast path.)
 */
function withFastPath<C extends object>(routing: Routing, extended: C, under: AnyClient, extensions: readonly ExtensionArgs[]): C {
  // Another error format than `minimal` heads errors with the application's call site, which only Prisma's own
  // pipeline records (src/prisma/fast-reads.ts).
  if (recordsCallSites(under)) return extended
  const fast = extensions.length === 0 ? hasNoExtensions(under) : readsUnchangedBy(extensions)
  const chained = !fast && extensions.length > 0 && readsChangedOnlyByQueries(extensions) && runsRequests(under)
  if (!fast && !chained) return extended
  return withFastReads(extended, under, fastReads(routing, under), routing.internals, chained ? fastPrimaryOnly(routing) : undefined)
}
