/**
 * How readReplicas composes with the application's other extensions, in any order.
 *
 * - **Always last.** Prisma runs query extensions first applied first, and a replica read never reaches the
 *   extensions after the one that sends it elsewhere. So the routed client answers `$extends(extension)` by
 *   applying `extension` to the client under the router and the router again on top ({@link routerOnTop}): a
 *   query extension added later (a tenant filter, row-level security) runs before routing on every read, once.
 * - **Results shaped as the application's client shapes them.** A replica read runs on the replica's own client,
 *   and the routed client computes its result extensions from the rows returned, as from its own: the replica is
 *   asked for the fields computed fields need (src/prisma/computed-fields.ts).
 * - `$replica()` is the client under the router with a last query extension that runs each query on the replica:
 *   every extension runs once, in order, with the clients it was given (src/read-replicas.ts).
 */
import { forwardingProxy } from './forwarding-proxy.js'
import { READ_OPERATIONS } from './operations.js'
import { extensionsOf, hasNoExtensions, modelShapesOf, type ExtensionArgs, type ModelShapes } from './internals.js'

/** The warning code emitted when the extensions under the router cannot be read from the client. */
export const EXTENSIONS_UNREADABLE_WARNING = 'PRISMA_REPLICA_ROUTER_EXTENSIONS_UNREADABLE'

/** The name of the router's extensions (`prisma-replica-router`, and `…/primary`, `…/replica` under it). */
export const ROUTER_EXTENSION = 'prisma-replica-router'

let warned = false

/**
 * The extensions applied to `client` (first applied first): whether reads may take the fast path, and whether
 * replica reads need computed fields' needs. When this Prisma Client does not let them be read, an empty list
 * (no fast path then: see read-replicas.ts) and one process warning.
 */
export function extensionsUnder(client: object): readonly ExtensionArgs[] {
  const extensions = extensionsOf(client)
  if (extensions !== undefined) return extensions
  if (!hasNoExtensions(client)) warnUnreadable()
  return []
}

/**
 * The models of `client` as computed fields need them, when one of `extensions` has a result component;
 * `undefined` when none has. When this Prisma Client does not expose them, one process warning.
 */
export function shapesUnder(client: object, extensions: readonly ExtensionArgs[]): ModelShapes | undefined {
  if (!extensions.some((e) => e.result !== undefined)) return undefined
  const shapes = modelShapesOf(client)
  if (!shapes) warnUnreadable()
  return shapes
}

function warnUnreadable(): void {
  if (warned) return
  warned = true
  process.emitWarning(
    'prisma-replica-router: this Prisma Client version does not let the router read the extensions applied under it, so computed ' +
      'fields of result extensions fail on replica reads. Please report the Prisma version.',
    { code: EXTENSIONS_UNREADABLE_WARNING },
  )
}

/**
 * True when none of `extensions` changes what a model read asks or returns: no query or result component, and no
 * model method named like a read operation. The fast read path (src/prisma/fast-reads.ts) may then skip the routed
 * client's pipeline: an extension that only adds client or model methods (or nothing) costs reads nothing.
 */
export function readsUnchangedBy(extensions: readonly ExtensionArgs[]): boolean {
  return extensions.every((e) => e.query === undefined && e.result === undefined && !replacesRead(e))
}

/**
 * True when `extensions` change model reads only through query components: no result component, and no model
 * method named like a read operation. The fast read path may then run their query callbacks itself, before it
 * routes (src/prisma/query-chain.ts), instead of the routed client's pipeline.
 */
export function readsChangedOnlyByQueries(extensions: readonly ExtensionArgs[]): boolean {
  // Another router under this one (readReplicas applied twice) applies itself on top of what is applied to its
  // client: its reads are not the chain of the client under this router.
  return extensions.every((e) => e.result === undefined && !replacesRead(e) && !e.name?.startsWith(ROUTER_EXTENSION))
}

/** An extension with a model method named like a read operation (`findMany`), which replaces the delegate's. */
function replacesRead(extension: ExtensionArgs): boolean {
  const definesRead = (methods: unknown): boolean => typeof methods === 'object' && methods !== null && Object.keys(methods).some((m) => READ_OPERATIONS.has(m))
  return extension.model !== undefined && Object.values(extension.model as Record<string, unknown>).some(definesRead)
}

/**
 * `routed` (the router applied to `under`), answering `$extends(extension)` with `reapply(extension)`: the
 * extension applied under the router, and the router on top again. Everything else is `routed`'s own.
 */
export function routerOnTop<C extends object>(routed: C, reapply: (extension: unknown, parent: C) => object): C {
  // An extension in function form gets the routed client, as Prisma gives it the client `$extends` is called on:
  // what it sends through that client is routed (its writes count for read-your-writes); the objects it applies
  // come back here.
  function $extends(extension: unknown): object {
    return typeof extension === 'function' ? (extension as (client: C) => object)(proxy) : reapply(extension, proxy)
  }
  const proxy = forwardingProxy(
    routed,
    (prop) => (prop === '$extends' ? $extends : Reflect.get(routed, prop)),
    () => undefined,
  )
  return proxy
}
