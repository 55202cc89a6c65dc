/**
 * The fast read path, for clients whose error format is `minimal` (NODE_ENV=production's default: Prisma then records
 * no call site, so a read the router builds reports its errors exactly as Prisma's own; with another format, the
 * application's call site heads them, which only Prisma's own pipeline records, so reads take the query extension).
 * A query extension makes every read pass through the extended client's request pipeline
 * (argument cloning, the extension chain, result visiting) before the replica client runs its own: about 10 %
 * more latency than a plain client. When the client that `readReplicas` extends has no extension that changes
 * model reads (none, or only client and model methods: src/prisma/composition.ts, readsUnchangedBy), nothing in that
 * first pass changes the query, so the extended client is wrapped instead: its model delegates
 * answer read operations (`findMany`, `findUnique`, `count`, …) by routing at once and calling the chosen
 * client's delegate directly. When only query components change reads (readsChangedOnlyByQueries), the row
 * reads (`findMany`, `findFirst`, `findUnique` and their `OrThrow` forms) run those callbacks first, as Prisma
 * would (src/prisma/query-chain.ts), and then route; the aggregates take the extended client's own query. Everything
 * else is the extended client itself, untouched:
 * - writes, raw queries, `$transaction`, transaction clients and `$extends` on top of it use the extended client
 *   (the query extension routes them, and a later `$extends` keeps routing reads through it);
 * - a read used in a batch `$transaction([...])` becomes the extended client's own query (primary, in the batch);
 * - the fluent API (`findUnique(...).posts()`) is answered by the extended client's query.
 */
import { READ_OPERATIONS, modelProperty } from './operations.js'
import { quietAction } from './without-call-site.js'
import { forwardingProxy } from './forwarding-proxy.js'
import { DISABLED_CALL_SITE } from './call-site.js'
import { executeRequest, modelRequest, queryCallbacksOf, runRequest, type ModelRequest, type QueryCallback } from './internals.js'
import { runQueryChain } from './query-chain.js'
import type { InternalsGate } from './self-check.js'

/**
 * Routes one read: runs it on a replica, or through `primary` (the unextended client's delegate). `request`: the
 * read as Prisma's request (see src/prisma/internals.ts, modelRequest), for a row read, which a replica's client may
 * then run without its own pipeline; `undefined`: the replica's model method runs it.
 */
export type RouteRead = (model: string, operation: string, args: unknown, primary: (args: unknown) => PromiseLike<unknown>, request: ModelRequest | undefined) => Promise<unknown>

/**
 * Runs, as the router accounts for it, a query that query extension callbacks under the router made a
 * `'transaction'` query (put in a batch transaction) or a `'write'` (changed into another operation): `run` sends
 * it to the primary.
 */
export type PrimaryOnly = (kind: 'transaction' | 'write', model: string, operation: string, run: () => PromiseLike<unknown>) => PromiseLike<unknown>

type Action = (args?: unknown) => PromiseLike<unknown> & Record<string | symbol, unknown>
type Delegate = Record<string | symbol, unknown> & { $name?: unknown }

/** Operations whose result carries the fluent API (relation accessors). */
const FLUENT_OPERATIONS: ReadonlySet<string> = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow'])

const NOT_A_MODEL = Symbol('not a model')

function isDelegate(value: unknown): value is Delegate {
  return typeof value === 'object' && value !== null && typeof (value as Delegate).findMany === 'function'
}

/**
 * A lazy, PrismaPromise-compatible result of a routed read: nothing runs until it is awaited (or `then`,
 * `catch`, `finally` is called), and it runs once. A class, so that a read allocates one small object.
 */
class RoutedRead {
  readonly #target: ReadTarget
  readonly #args: unknown
  #result: Promise<unknown> | undefined
  #query: (PromiseLike<unknown> & Record<string | symbol, unknown>) | undefined

  constructor(target: ReadTarget, args: unknown) {
    this.#target = target
    this.#args = args
  }

  #run(): Promise<unknown> {
    if (this.#result) return this.#result
    const target = this.#target
    const check = target.internals.result
    if (check === undefined) {
      // The first reads wait for the self-check of the internals this path relies on (src/prisma/self-check.ts).
      this.#result = target.internals.run().then(() => {
        this.#result = undefined
        return this.#run()
      })
      return this.#result
    }
    // An internal this path relies on is not as expected: Prisma's own pipeline (the query extension routes it).
    if (!check.request || (target.chain && !check.chain)) return (this.#result = Promise.resolve(RoutedRead.viaExtension(this)))
    try {
      // The fast path runs with the `minimal` error format only: its errors have Prisma's heading, no location.
      const request = target.rows ? modelRequest(target.model, target.jsModelName, target.operation, this.#args, DISABLED_CALL_SITE) : undefined
      const chain = target.chain
      // The primary runs the request itself (with its call site), as the chain's last step does.
      const primary = request ? (args: unknown) => executeRequest(target.base, request, args) : target.primary
      this.#result = chain && request ? runQueryChain(chain.callbacks, request, chain.last) : target.route(target.model, target.operation, this.#args, primary, request)
    } catch (error) {
      // Like a PrismaPromise: a failure to start is a rejection, never a throw from `then`/`catch`/`finally`.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the error as thrown
      this.#result = Promise.reject(error)
    }
    return this.#result
  }

  /** The extended client's own query for the same call (its query extension routes it); made once, lazily. */
  static viaExtension(read: RoutedRead): PromiseLike<unknown> & Record<string | symbol, unknown> {
    return (read.#query ??= read.#target.viaExtension(read.#args))
  }

  then<A = unknown, B = never>(onFulfilled?: ((value: unknown) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.#run().then(onFulfilled, onRejected)
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<unknown> {
    return this.#run().catch(onRejected)
  }

  finally(onFinally?: (() => void) | null): Promise<unknown> {
    return this.#run().finally(onFinally)
  }

  /** In a batch `$transaction([...])`: the extended client's own query, which runs on the primary in the batch. */
  requestTransaction(transaction: unknown): unknown {
    const query = RoutedRead.viaExtension(this)
    const request = query.requestTransaction
    return typeof request === 'function' ? (request as (t: unknown) => unknown).call(query, transaction) : query
  }

  get spec(): { action: string; args: unknown; model: string } {
    return { action: this.#target.operation, args: this.#args, model: this.#target.model }
  }
}
// On the prototype, as Prisma's batch `$transaction` checks it; not a field of every read.
Object.defineProperty(RoutedRead.prototype, Symbol.toStringTag, { value: 'PrismaPromise' })

/** What every read of one model operation shares. */
interface ReadTarget {
  readonly model: string
  readonly operation: string
  readonly route: RouteRead
  /** The unextended client's action (the primary). */
  readonly primary: (args: unknown) => PromiseLike<unknown>
  /** The extended client's action (its query extension routes). */
  readonly viaExtension: Action
  /** The client property of the model (`user`). */
  readonly jsModelName: string
  /** The query extension callbacks under the router for this row read, run before it routes; none: routes at once. */
  readonly chain: { readonly callbacks: readonly QueryCallback[]; readonly last: (request: ModelRequest) => PromiseLike<unknown> } | undefined
  /** A row read: it is also given as Prisma's request (to the chain, and to the router). */
  readonly rows: boolean
  /** The client under the router (the primary), which runs a row read's request when the plan says primary. */
  readonly base: object
  /** The self-check of the internals this path relies on. */
  readonly internals: InternalsGate
}

/**
 * The row reads: the fast path runs query extension callbacks for them itself (src/prisma/query-chain.ts), and gives
 * them to the router as Prisma's request too. The aggregates (`count`, `aggregate`, `groupBy`) map their arguments
 * and results in Prisma's pipeline: with callbacks under the router, they take the extended client's own query;
 * a replica runs them through its model method.
 */
const ROW_READS: ReadonlySet<string> = new Set(['findMany', 'findFirst', 'findFirstOrThrow', 'findUnique', 'findUniqueOrThrow'])

/**
 * The class of a model's routed reads: RoutedRead plus one method per relation of the model (the fluent API,
 * `findUnique(...).posts()`), answered by the extended client's own query, whose extension unpacks it.
 */
function routedReadClass(relations: readonly string[]): typeof RoutedRead {
  class ModelRoutedRead extends RoutedRead {}
  for (const relation of relations) {
    Object.defineProperty(ModelRoutedRead.prototype, relation, {
      configurable: true,
      writable: true,
      value(this: RoutedRead, args?: unknown): unknown {
        return (RoutedRead.viaExtension(this)[relation] as (args?: unknown) => unknown)(args)
      },
    })
  }
  return ModelRoutedRead
}

/** The relation names of a model: the fluent accessors Prisma puts on a `findUnique` promise (nothing runs). */
function relationsOf(delegate: Delegate): string[] {
  const probe = (delegate.findUnique as Action)({ where: {} })
  // A relation may be called `spec`: Prisma's accessor then wins over the promise's `spec`, and so does ours.
  const own = new Set<string | symbol>(['then', 'catch', 'finally', 'requestTransaction'])
  return Reflect.ownKeys(probe).filter((key): key is string => typeof key === 'string' && !own.has(key) && typeof probe[key] === 'function')
}

/**
 * The last step of a chain under the router, for the request as the callbacks left it (an extension may have
 * changed its model or operation, as Prisma honours): in a batch transaction a callback put the query in, or
 * when it is no longer a read, the request itself, on the client under the router (the primary), given to
 * `primaryOnly`; else the routed read, whose primary runs the request on that client (its callbacks have run).
 */
function lastStep(route: RouteRead, primaryOnly: PrimaryOnly, base: object): (request: ModelRequest) => PromiseLike<unknown> {
  return (request) => {
    if (request.transaction !== undefined) return primaryOnly('transaction', request.model, request.action, () => runRequest(base, request))
    if (!READ_OPERATIONS.has(request.action)) return primaryOnly('write', request.model, request.action, () => runRequest(base, request))
    return route(request.model, request.action, request.args, (args) => executeRequest(base, request, args), ROW_READS.has(request.action) ? request : undefined)
  }
}

function fastDelegate(
  jsModelName: string,
  model: string,
  delegate: Delegate,
  baseDelegate: Delegate,
  route: RouteRead,
  base: object,
  chained: PrimaryOnly | undefined,
  internals: InternalsGate,
): Delegate {
  const Fluent = routedReadClass(relationsOf(delegate))
  const actions = new Map<string | symbol, Action>()
  const last = chained && lastStep(route, chained, base)
  for (const operation of READ_OPERATIONS) {
    const callbacks = chained ? queryCallbacksOf(base, jsModelName, operation) : undefined
    const chain = last && callbacks !== undefined && callbacks.length > 0 ? { callbacks, last } : undefined
    // Callbacks under the router for an operation the chain does not run: the extended client's own query.
    if (chained && (callbacks === undefined || (chain && !ROW_READS.has(operation)))) continue
    const primaryAction = baseDelegate[operation] as Action
    const extendedAction = delegate[operation] as Action
    const target: ReadTarget = {
      model,
      operation,
      route,
      // The extended client shares the base client's error format.
      primary: quietAction(base, primaryAction),
      viaExtension: quietAction(base, extendedAction),
      jsModelName,
      chain,
      rows: ROW_READS.has(operation),
      base,
      internals,
    }
    const Read = FLUENT_OPERATIONS.has(operation) ? Fluent : RoutedRead
    actions.set(operation, ((args?: unknown) => new Read(target, args)) as unknown as Action)
  }
  return forwardingProxy(
    delegate,
    (prop) => actions.get(prop) ?? Reflect.get(delegate, prop),
    (prop) => actions.delete(prop),
  )
}

/**
 * Wraps `extended` (the result of `base.$extends(...)` with the routing query extension) so that model reads
 * are routed without the extended client's pipeline. Only valid when no extension of `base` changes model reads,
 * or, with `chained`, when those that do have only query components (their callbacks are run here, before routing;
 * what they turn into a transaction query or a write is given to `chained`).
 */
export function withFastReads<C extends object>(extended: C, base: object, route: RouteRead, internals: InternalsGate, chained?: PrimaryOnly): C {
  const delegates = new Map<string | symbol, Delegate | typeof NOT_A_MODEL>()
  const lookup = (target: C, prop: string | symbol): Delegate | typeof NOT_A_MODEL => {
    if (typeof prop !== 'string' || prop.startsWith('$') || prop.startsWith('_')) return NOT_A_MODEL
    const delegate: unknown = Reflect.get(target, prop)
    const baseDelegate: unknown = Reflect.get(base, prop)
    if (!isDelegate(delegate) || !isDelegate(baseDelegate) || typeof delegate.$name !== 'string') return NOT_A_MODEL
    return fastDelegate(modelProperty(delegate.$name), delegate.$name, delegate, baseDelegate, route, base, chained, internals)
  }
  return forwardingProxy(
    extended,
    (prop) => {
      let fast = delegates.get(prop)
      if (fast === undefined) {
        fast = lookup(extended, prop)
        delegates.set(prop, fast)
      }
      return fast === NOT_A_MODEL ? Reflect.get(extended, prop) : fast
    },
    // A model replaced on the client (a test double) is the client's own from then on.
    (prop) => delegates.set(prop, NOT_A_MODEL),
  )
}
