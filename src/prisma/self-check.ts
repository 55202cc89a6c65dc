/**
 * A self-check, at the first routed query, of the Prisma internals the router's own paths rely on: the fast path
 * and the query chain (src/prisma/fast-reads.ts, query-chain.ts, clone-args.ts) and running a request on another
 * client (internals.ts, executeRequest), and computed fields on replica reads (computed-fields.ts). Where one is
 * not as the router expects, the router takes the path through Prisma's own pipeline instead (reads through its
 * query extension, replica reads through the replica client's model methods, reads with computed fields on the
 * primary), says so once (a process warning naming the internal), and stays correct. The canaries in
 * test/prisma/ check the same at test time; this check runs on the application's Prisma Client.
 *
 * It runs nothing of the application's and sends nothing to a server: it extends the bare client (no extension of
 * the application's) with a query component that answers without calling `query()`, reads what Prisma gives that
 * component, and compares it with what the router builds itself. With Prisma's tracing on, where a probe would show
 * as an operation span, only what can be read without calling anything is checked.
 */
import { DbNull, Decimal } from '@prisma/client/runtime/client'
import { cloneArgs } from './clone-args.js'
import { DISABLED_CALL_SITE } from './call-site.js'
import { executesRequests, extensionsOf, fluentPath, hasNoExtensions, modelRequest, modelShapesOf, queryCallbacksOf, tracingEnabled } from './internals.js'

/** The warning code emitted when an internal of this Prisma Client is not as the router expects. */
export const INTERNALS_WARNING = 'PRISMA_REPLICA_ROUTER_INTERNALS'

/** What the check found, by the router path each internal serves. */
export interface InternalsCheck {
  /** A request the router builds is one Prisma's `_executeRequest` runs as its own (fast path, replica reads). */
  readonly request: boolean
  /** Query callbacks are read and called as Prisma does, with arguments copied as Prisma copies them (query chain). */
  readonly chain: boolean
  /** Computed fields and relations are read as Prisma defines them (replica reads with computed fields). */
  readonly computed: boolean
  /** The fluent API's path is read as Prisma sets it. */
  readonly fluent: boolean
  /** What failed, for the warning. */
  readonly failures: readonly string[]
}

const ALL_GOOD: InternalsCheck = Object.freeze({ request: true, chain: true, computed: true, fluent: true, failures: [] })

/** Keys Prisma's request may have beyond those the router builds (the tracing context). */
const PRISMA_ONLY_KEYS = new Set(['otelParentCtx'])
/** Keys Prisma adds to the request only once a callback calls `query()` (the composed fetch decorator). */
const ADDED_BY_QUERY = new Set(['customDataProxyFetch'])

type Client = Record<string, unknown> & { $extends(extension: unknown): Client }

interface Seen {
  params: Record<string, unknown> | undefined
}

const SENTINEL = Object.freeze({ prismaReplicaRouterSelfCheck: true })

/** A class instance in the probe's arguments: Prisma copies it into a plain object. */
class ProbeValue {
  readonly kept = 1
}

/** What `copy` (Prisma's, or ours) made of the probe's arguments, as facts to compare. */
function copyFacts(given: Record<string, unknown>, copy: unknown): string[] {
  if (typeof copy !== 'object' || copy === null) return ['not an object']
  const c = copy as Record<string, unknown>
  const date = c.date
  const nested = c.nested as unknown[] | undefined
  return [
    `date copied: ${String(date instanceof Date && date !== given.date && date.getTime() === (given.date as Date).getTime())}`,
    // A decimal is immutable: Prisma copies it, the router keeps it; either is an equal Decimal.
    `decimal equal: ${String(typeof (c.decimal as { equals?: unknown } | undefined)?.equals === 'function' && (c.decimal as { equals(d: unknown): boolean }).equals(given.decimal))}`,
    `null type same: ${String(c.dbNull === given.dbNull)}`,
    `nested copied: ${String(Array.isArray(nested) && nested !== given.nested && JSON.stringify(nested) === JSON.stringify(given.nested))}`,
    `instance plain: ${String(typeof c.instance === 'object' && c.instance !== null && Object.getPrototypeOf(c.instance) === Object.prototype && (c.instance as { kept?: unknown }).kept === 1)}`,
    `bytes copied: ${String(c.bytes instanceof Uint8Array && c.bytes !== given.bytes && c.bytes[0] === 7)}`,
  ]
}

/** What the engine saw last (a function, so the compiler does not narrow it across awaits). */
function paramsSeen(seen: Seen): Seen['params'] {
  return seen.params
}

/** The first model (and one of its relations, and a scalar) of the client's data model. */
function probeModel(client: Client): { model: string; js: string; scalar: string; relation: { name: string; target: string } | undefined } | undefined {
  const models = (client._runtimeDataModel as { models?: Record<string, { fields?: { name?: unknown; kind?: unknown; type?: unknown }[] }> } | undefined)?.models
  if (typeof models !== 'object') return undefined
  let fallback: ReturnType<typeof probeModel>
  for (const [model, info] of Object.entries(models)) {
    const fields = info.fields ?? []
    const scalar = fields.find((f) => f.kind === 'scalar' && typeof f.name === 'string')?.name as string | undefined
    if (scalar === undefined) continue
    const relation = fields.find((f) => f.kind === 'object' && typeof f.name === 'string' && typeof f.type === 'string')
    const found = {
      model,
      js: model.charAt(0).toLowerCase() + model.slice(1),
      scalar,
      relation: relation ? { name: relation.name as string, target: relation.type as string } : undefined,
    }
    if (relation) return found
    fallback ??= found
  }
  return fallback
}

/**
 * Checks the internals of the Prisma Client `client` (the client under the router, or any client over the same
 * runtime) as described above. Never throws: what cannot be checked counts as failed.
 */
export async function checkInternals(client: object): Promise<InternalsCheck> {
  const failures: string[] = []
  const fail = (what: string) => failures.push(what)
  const bare = (client as { _originalClient?: unknown })._originalClient as Client | undefined
  if (typeof bare !== 'object' || typeof bare.$extends !== 'function') {
    return { request: false, chain: false, computed: false, fluent: false, failures: ['the client’s `_originalClient` (the bare client to probe)'] }
  }
  let request = executesRequests(bare)
  if (!request) fail('`_executeRequest` or `_extensions.isEmpty()` of the bare client')
  let chain = true
  let computed = true
  let fluent = true
  const model = probeModel(bare)
  if (!model) return { request: false, chain: false, computed: false, fluent: false, failures: [...failures, 'the client’s `_runtimeDataModel.models`'] }
  try {
    const seen: Seen = { params: undefined }
    const probe = bare.$extends({
      name: 'prisma-replica-router/self-check',
      query: {
        $allOperations(params: Record<string, unknown>) {
          seen.params = params
          return Promise.resolve(SENTINEL)
        },
      },
    })
    const computing = bare.$extends({ result: { [model.js]: { prismaReplicaRouterSelfCheck: { needs: { [model.scalar]: true }, compute: () => 1 } } } })
    // What can be read without calling anything.
    const callbacks = queryCallbacksOf(probe, model.js, 'findMany')
    if (callbacks?.length !== 1) {
      chain = false
      fail('`_extensions.getAllQueryCallbacks()` (the query callbacks of a model operation)')
    }
    const extensions = extensionsOf(probe)
    if (extensions?.at(-1)?.name !== 'prisma-replica-router/self-check' || hasNoExtensions(probe) || !hasNoExtensions(bare)) {
      chain = false
      computed = false
      fail('`_extensions` (the list of extensions applied, `isEmpty()`)')
    }
    const shapes = modelShapesOf(computing)
    const field = shapes?.computed(model.model)?.prismaReplicaRouterSelfCheck
    if (
      field?.needs.length !== 1 ||
      field.needs[0] !== model.scalar ||
      !shapes?.isField(model.model, model.scalar) ||
      (model.relation !== undefined && shapes.relation(model.model, model.relation.name) !== model.relation.target)
    ) {
      computed = false
      fail('`_extensions.getAllComputedFields()` and `_runtimeDataModel` (computed fields and relations)')
    }
    // Prisma's tracing would show a probe as an operation span: the rest is not run then.
    if (tracingEnabled(bare)) return { request, chain, computed, fluent, failures }
    type Read = PromiseLike<unknown> & Record<string, ((args?: unknown) => PromiseLike<unknown>) | undefined>
    const delegate = probe[model.js] as { findMany: (args: unknown) => Read; findUnique: (args: unknown) => Read } | undefined
    if (!delegate) throw new Error(`no \`${model.js}\` delegate`)
    const given = {
      where: {},
      take: 1,
      date: new Date(0),
      decimal: new Decimal('1.5'),
      dbNull: DbNull,
      nested: [{ a: [1, 2] }],
      instance: new ProbeValue(),
      bytes: Uint8Array.from([7]),
    }
    const answer = await delegate.findMany(given)
    const params = seen.params
    const internal = params?.__internalParams as Record<string, unknown> | undefined
    if (answer !== SENTINEL || !params || typeof params.query !== 'function' || params.model !== model.model || params.operation !== 'findMany' || !internal) {
      chain = false
      request = false
      fail('the parameters of a query callback (`model`, `operation`, `args`, `query`, `__internalParams`)')
    } else {
      const ours = modelRequest(model.model, model.js, 'findMany', internal.args, DISABLED_CALL_SITE) as unknown as Record<string, unknown>
      const missing = Object.keys(ours).filter((key) => !(key in internal) && !ADDED_BY_QUERY.has(key))
      const extra = Object.keys(internal).filter((key) => !(key in ours) && !PRISMA_ONLY_KEYS.has(key))
      const same = ['action', 'model', 'clientMethod', 'jsModelName', 'transaction'].filter((key) => internal[key] !== ours[key])
      if (missing.length + extra.length + same.length > 0 || !Array.isArray(internal.dataPath) || internal.dataPath.length !== 0) {
        request = false
        chain = false
        fail(
          `the request of a model read (\`__internalParams\`: ${[...missing.map((k) => `no ${k}`), ...extra.map((k) => `new ${k}`), ...same.map((k) => `other ${k}`)].join(', ') || 'dataPath'})`,
        )
      }
      const prisma = copyFacts(given, params.args)
      const mine = copyFacts(given, cloneArgs(given))
      if (prisma.join() !== mine.join()) {
        chain = false
        fail(`the copy of a query's arguments for a callback (Prisma: ${prisma.filter((f, i) => f !== mine[i]).join('; ')})`)
      }
    }
    if (model.relation) {
      seen.params = undefined
      const read = delegate.findUnique({ where: {} })
      const accessor = read[model.relation.name]
      if (typeof accessor === 'function') await accessor.call(read)
      const captured = paramsSeen(seen)
      const path = captured ? fluentPath(captured) : undefined
      if (path?.length !== 1 || path[0] !== model.relation.name) {
        fluent = false
        fail('the fluent API’s `dataPath`')
      }
    }
  } catch (error) {
    fail(`the probe itself (${error instanceof Error ? error.message : String(error)})`)
    return { request: false, chain: false, computed: false, fluent: false, failures }
  }
  return failures.length === 0 ? ALL_GOOD : { request, chain, computed, fluent, failures }
}

const warned = new Set<string>()

/** One process warning per failure found (`consequence`: what the router does instead). */
export function warnInternals(check: InternalsCheck, version: string): void {
  for (const failure of check.failures) {
    if (warned.has(failure)) continue
    warned.add(failure)
    const instead = [
      check.request ? undefined : 'replica reads run through the replica client’s model methods',
      check.chain && check.request ? undefined : 'model reads go through Prisma’s own pipeline (no fast path)',
      check.computed ? undefined : 'reads with computed fields go to the primary',
      check.fluent ? undefined : 'fluent reads go to the primary',
    ].filter(Boolean)
    process.emitWarning(
      `prisma-replica-router: in this Prisma Client (${version}), ${failure} is not as the router expects, so ${instead.join('; ') || 'the router takes Prisma’s own path'}. Reads stay correct. Please report the Prisma version.`,
      { code: INTERNALS_WARNING },
    )
  }
}

/** The check for one routed client, run once, at its first query. */
export class InternalsGate {
  #check: InternalsCheck | undefined
  #running: Promise<InternalsCheck> | undefined

  constructor(private readonly client: object) {}

  /** The check, once it has run (`undefined` before). */
  get result(): InternalsCheck | undefined {
    return this.#check
  }

  /** Runs the check (once; later calls share it) and warns of what failed. */
  run(): Promise<InternalsCheck> {
    this.#running ??= checkInternals(this.client).then((check) => {
      this.#check = check
      if (check.failures.length > 0) {
        const version = (this.client as { _clientVersion?: unknown })._clientVersion
        warnInternals(check, typeof version === 'string' ? version : 'unknown version')
      }
      return check
    })
    return this.#running
  }
}
