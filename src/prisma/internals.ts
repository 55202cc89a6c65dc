/**
 * What the router reads of Prisma Client internals. Everything Prisma-specific lives in src/prisma/ (this file,
 * and the modules that follow Prisma's own behaviour: fast-reads.ts re-implements PrismaPromise and relies on
 * `$name`, `requestTransaction`, `spec`, the `PrismaPromise` tag and the fluent relation accessors; query-chain.ts
 * and clone-args.ts follow Prisma's query extension chain; computed-fields.ts its serializer; composition.ts its
 * `$extends`; route-query.ts, forced-clients.ts and client-methods.ts use only its public extension API); their
 * canaries are in test/prisma/, test/prisma/internals.db.test.ts first: they fail loudly when a Prisma release
 * changes what is relied on. Run `npm run test:compat -- <versions>` after a Prisma release.
 *
 * Read here, from the `__internalParams` that Prisma passes to every query extension callback:
 * - `transaction`: set for every query of a batch or interactive `$transaction`.
 * - `dataPath`: the fluent-API path (`['select', 'posts']` for `findUnique(...).posts()`); the client unpacks
 *   the result along it after the query, which a query sent to another client must do itself.
 *
 * Read from a client: `_extensions.isEmpty()`, whether any `$extends` was applied to it (a client without
 * extensions lets replica reads skip the extended client's request pipeline: see fast-reads.ts); and
 * `_errorFormat`, whether its queries record a call site (see without-call-site.ts).
 *
 * Read from a client's driver adapter (see {@link pgSettingsOf}): `_engineConfig.adapter`, the adapter factory
 * the client was built with, and of `@prisma/adapter-pg`'s factory, `adapterName`, `config` and `externalPool`:
 * the router opens its own connections with the same settings (never through the application's pool).
 *
 * Read from a client's request handler and query engine (see {@link requestHandlerOf}, {@link engineOf}):
 * `_requestHandler.request` (once per query, in its sender's async context) and `_engine.transaction`, which
 * src/prisma/engine-queries.ts wraps to see every query sent to the primary by any client over it (a client an
 * extension captured too), and the scope that sent it.
 *
 * Relied on for `$transaction` (see {@link withTransactionWrapper}): a client extension's `$transaction`
 * replaces Prisma's own, and Prisma's own, called with an extended client as `this`, builds the transaction
 * client from that client (so every extension applies inside the transaction).
 */
import { Prisma } from '@prisma/client/extension'
import { Sql } from '@prisma/client/runtime/client'
import { ReplicaRouterError } from '../errors/index.js'

interface InternalParams {
  readonly transaction?: unknown
  readonly dataPath?: unknown
}

function internalParams(params: object): InternalParams {
  const internal = (params as { __internalParams?: unknown }).__internalParams
  if (typeof internal !== 'object' || internal === null) {
    throw new ReplicaRouterError(
      'prisma-replica-router cannot see `__internalParams` in this Prisma Client version, so it cannot tell ' +
        'transactions apart and refuses to route. Please report the Prisma version.',
    )
  }
  return internal
}

/** True when the query runs inside a batch or interactive `$transaction`. */
export function isInTransaction(params: object): boolean {
  return internalParams(params).transaction !== undefined
}

/**
 * The request a query extension callback was given (its `__internalParams`: arguments, action, model, fluent
 * `dataPath` and `unpacker`, call site, transaction), for {@link executeRequest}.
 */
export function requestOf(params: object): object {
  return internalParams(params)
}

/**
 * True when `client` can run a request another client's query extension received ({@link executeRequest}): a
 * PrismaClient with `_executeRequest` and no extension of its own (which that shortcut would skip).
 */
export function executesRequests(client: unknown): boolean {
  return runsRequests(client) && hasNoExtensions(client)
}

/** True when `client` has the `_executeRequest` that {@link executeRequest} and {@link runRequest} call. */
export function runsRequests(client: unknown): boolean {
  return typeof (client as { _executeRequest?: unknown } | null)?._executeRequest === 'function'
}

/**
 * Runs `request` (see {@link requestOf}) on `client`, with `args`, outside any transaction: `client` serializes,
 * executes and unpacks it (fluent path, `count`), as the last step of a query extension chain does, and returns
 * what that step returns (the calling client then applies its result extensions). It skips what a model method
 * of `client` would add: another request pipeline (call site, promise, tracing span, extension chain).
 */
export function executeRequest(client: unknown, request: object, args: unknown): Promise<unknown> {
  return runRequest(client, { ...request, args, transaction: undefined })
}

/**
 * A query extension callback as Prisma stores it (see {@link queryCallbacksOf}); it is given the model, the
 * operation, a copy of the arguments, the request as `__internalParams`, and `query`, which runs the rest.
 */
export type QueryCallback = (input: {
  readonly model: string
  readonly operation: string
  readonly args: unknown
  readonly query: (args: unknown, internalParams?: ModelRequest) => unknown
  readonly __internalParams: ModelRequest
}) => unknown

/**
 * The request Prisma builds for a model operation (`prisma.user.findMany(args)`) and hands to query extension
 * callbacks as `__internalParams`; mutable, as Prisma's is (`query` writes the arguments it is given into it).
 */
export interface ModelRequest {
  args: unknown
  readonly dataPath: readonly unknown[]
  readonly action: string
  readonly model: string
  readonly clientMethod: string
  readonly jsModelName: string
  transaction: { readonly kind?: unknown; readonly lock?: PromiseLike<unknown> } | undefined
  /** Where the application called (src/prisma/call-site.ts): Prisma heads the request's errors with it. */
  readonly callsite: object | undefined
  customDataProxyFetch: ((fetch: unknown) => unknown) | undefined
}

/**
 * The query extension callbacks of `client` for a model operation, in the order Prisma runs them (from
 * `_extensions.getAllQueryCallbacks(jsModelName, operation)`, a list Prisma caches per operation); `undefined`
 * when this Prisma Client does not expose them (the caller then lets the client run its own pipeline).
 */
export function queryCallbacksOf(client: unknown, jsModelName: string, operation: string): readonly QueryCallback[] | undefined {
  const extensions = (client as { _extensions?: { getAllQueryCallbacks?: unknown } } | null)?._extensions
  if (typeof extensions?.getAllQueryCallbacks !== 'function') return undefined
  const callbacks: unknown = (extensions.getAllQueryCallbacks as (model: string, operation: string) => unknown).call(extensions, jsModelName, operation)
  return Array.isArray(callbacks) && callbacks.every((c) => typeof c === 'function') ? (callbacks as QueryCallback[]) : undefined
}

/**
 * The request of a model operation outside a transaction, as Prisma builds it for `prisma.<jsModelName>.<action>(args)`,
 * with the application's call site (src/prisma/call-site.ts).
 */
export function modelRequest(model: string, jsModelName: string, action: string, args: unknown, callsite: object | undefined): ModelRequest {
  return { args, dataPath: [], action, model, clientMethod: `${jsModelName}.${action}`, jsModelName, transaction: undefined, callsite, customDataProxyFetch: undefined }
}

/**
 * Runs `request` on `client` as the last step of its query extension chain does (serialize, execute, unpack), in
 * the request's transaction if it has one (a batch `$transaction` an extension put the query in).
 */
export function runRequest(client: unknown, request: object): Promise<unknown> {
  const execute = (client as { _executeRequest: (request: object) => Promise<unknown> })._executeRequest
  return execute.call(client, request)
}

/**
 * True when Prisma's tracing is on for `client` (`@prisma/instrumentation` registered and enabled): from its
 * `_tracingHelper.isEnabled()`, which follows the instrumentation as it is enabled and disabled. A request run with
 * {@link executeRequest} has no `prisma:client:operation` span, so the router then runs reads through the
 * replica's model methods. `true` when unknown.
 */
export function tracingEnabled(client: unknown): boolean {
  const helper = (client as { _tracingHelper?: { isEnabled?: unknown } } | null)?._tracingHelper
  return typeof helper?.isEnabled !== 'function' || (helper as { isEnabled(): unknown }).isEnabled() !== false
}

/**
 * Makes `parent` what `client` reports as `$parent` (in its client and model methods, and its transaction
 * clients'): Prisma reads it from `_appliedParent`, the client `$extends` was called on, which it defines as a
 * configurable property. Used for an extension applied to the routed client, which the router applies under
 * itself: its `$parent` must still be the routed client it was applied to.
 */
export function setAppliedParent(client: object, parent: object): void {
  Object.defineProperty(client, '_appliedParent', { value: parent, configurable: true })
}

/**
 * Calls `client`'s raw-query method `operation` (`$queryRaw`, `$executeRawUnsafe`, …) with the arguments a query
 * extension received for it: a `Prisma.Sql` (tagged templates, typed SQL) is passed as is, an array (`…Unsafe`:
 * the SQL, then its values) is spread.
 */
export function callRaw(client: object, operation: string, args: unknown): PromiseLike<unknown> {
  const method = Reflect.get(client, operation) as (...args: unknown[]) => PromiseLike<unknown>
  return Array.isArray(args) ? method.apply(client, args) : method.call(client, args)
}

/**
 * The SQL text a raw read sends, from its arguments as a query extension receives them, read as Prisma's
 * PostgreSQL argument mapper reads them — or `undefined` (the caller then uses the primary) when the shape is
 * not one this version of Prisma is known to use: `$queryRawUnsafe` gets `[sql, ...values]`; `$queryRawTyped` a
 * `TypedSql` (Prisma sends its `sql` only when it carries Prisma's TypedSql marker); `$queryRaw` an `Sql`
 * object, whose `text` Prisma sends, accepted only when it is exactly its `strings` joined by `$1`, `$2`, …
 * (nested fragments already flattened: a value that is still a fragment is refused). Canary:
 * test/prisma/internals.db.test.ts.
 */
export function rawSqlText(operation: string, args: unknown): string | undefined {
  if (operation === '$queryRawUnsafe') return Array.isArray(args) && typeof args[0] === 'string' ? args[0] : undefined
  if (typeof args !== 'object' || args === null) return undefined
  if (operation === '$queryRawTyped') {
    const { sql, [TYPED_SQL]: marker } = args as { sql?: unknown; [TYPED_SQL]?: unknown }
    return marker === TYPED_SQL && typeof sql === 'string' ? sql : undefined
  }
  if (operation !== '$queryRaw') return undefined
  const { strings, values, text } = args as { strings?: unknown; values?: unknown; text?: unknown }
  if (!Array.isArray(strings) || !strings.every((part) => typeof part === 'string') || !Array.isArray(values)) return undefined
  if (values.some(isSqlFragment)) return undefined
  const joined = strings.reduce((sql, part, i) => `${sql}$${String(i)}${part}`)
  return text === joined ? joined : undefined
}

/**
 * The SQL text a raw read method of a client (`$queryRaw`, `$queryRawUnsafe`, `$queryRawTyped`) will send, from
 * the arguments it is called with: a tagged template's strings and values (nested `Prisma.sql` fragments
 * flattened as Prisma does), or what {@link rawSqlText} reads. Canary: test/prisma/internals.db.test.ts.
 */
export function rawCallText(operation: string, args: readonly unknown[]): string | undefined {
  const [first, ...values] = args
  if (operation === '$queryRaw' && Array.isArray(first) && 'raw' in first) return rawSqlText(operation, new Sql(first as string[], values))
  return rawSqlText(operation, operation === '$queryRawUnsafe' ? args : first)
}

/** Prisma's marker of a TypedSql (a property whose value is its name). */
const TYPED_SQL = '$$PrismaTypedSql'

/** An `Sql` fragment by shape (whichever copy of Prisma's runtime made it): `strings` and `values` arrays. */
const isSqlFragment = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && Array.isArray((value as { strings?: unknown }).strings) && Array.isArray((value as { values?: unknown }).values)

/** The relation names of a fluent-API call (`findUnique(...).posts()` -> `['posts']`), or `undefined`. */
export function fluentPath(params: object): readonly string[] | undefined {
  const dataPath = internalParams(params).dataPath
  if (!Array.isArray(dataPath) || dataPath.length === 0) return undefined
  const path: string[] = []
  for (let i = 1; i < dataPath.length; i += 2) path.push(String(dataPath[i]))
  return path
}

/**
 * True for an error a client gives for a query's arguments, whose message shows them: a
 * `PrismaClientValidationError` (thrown before any network I/O), or a known request error P2009 / P2012 (the
 * query validated against the schema).
 */
export function isArgumentError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { name, code } = error as { name?: unknown; code?: unknown }
  return name === 'PrismaClientValidationError' || code === 'P2009' || code === 'P2012'
}

/** Unpacks a result along a fluent path, as the client does for its own queries (`null` stays `null`). */
export function unpackFluent(result: unknown, path: readonly string[]): unknown {
  let value = result
  for (const key of path) {
    if (value === null || value === undefined) return value
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

/**
 * The client of the same interactive transaction as `tx`, without any extension: Prisma builds a transaction
 * client's `$parent` as the transaction client of the client `$extends` was called on (`_appliedParent`), so
 * following `$parent` up to a client whose extension list is empty reaches the bare one. `undefined` when it
 * cannot be reached that way (the caller then uses `tx`).
 */
export function bareTransactionClient(tx: unknown): object | undefined {
  let client = tx
  for (let depth = 0; depth < 64; depth++) {
    if (typeof client !== 'object' || client === null) return undefined
    if (hasNoExtensions(client)) return isTransactionClient(client) ? client : undefined
    const parent: unknown = (client as { $parent?: unknown }).$parent
    if (parent === client) return undefined
    client = parent
  }
  return undefined
}

const TRANSACTION_SCOPE = Symbol.for('prisma.client.transaction.scope_context')

/**
 * True when `client` is an interactive-transaction client. Prisma 7 marks those with the
 * `prisma.client.transaction.scope_context` symbol and denies them `$extends`/`$connect`
 * (Prisma 5/6 denied `$transaction` instead). Any of these signs is enough.
 */
export function isTransactionClient(client: unknown): boolean {
  const c = client as Record<string | symbol, unknown>
  return c[TRANSACTION_SCOPE] !== undefined || typeof c.$extends !== 'function' || typeof c.$transaction !== 'function'
}

/**
 * True when `client` is a PrismaClient with no extension applied (no query, result, model or client component
 * to honour). `false` when unknown: the caller then takes the path that honours every extension.
 */
export function hasNoExtensions(client: unknown): boolean {
  const extensions = (client as { _extensions?: { isEmpty?: unknown } } | null)?._extensions
  if (typeof extensions?.isEmpty !== 'function') return false
  return (extensions as { isEmpty(): unknown }).isEmpty() === true
}

/** One extension as it was given to `$extends` (the object form; a function form has added its own objects). */
export interface ExtensionArgs {
  readonly name?: string
  readonly result?: object
  readonly model?: object
  readonly query?: object
  readonly client?: object
}

/**
 * The extensions applied to `client`, first applied first: Prisma keeps them in `_extensions`, a list whose
 * `head` node holds the newest `extension` and links to the `previous` node. `undefined` when the list cannot be
 * read (the caller then cannot reproduce them elsewhere and says so).
 */
export function extensionsOf(client: unknown): readonly ExtensionArgs[] | undefined {
  const list = (client as { _extensions?: { head?: unknown; isEmpty?: unknown } } | null)?._extensions
  if (typeof list !== 'object' || typeof list.isEmpty !== 'function') return undefined
  const extensions: ExtensionArgs[] = []
  let node = list.head as { extension?: unknown; previous?: unknown } | undefined
  while (node !== undefined) {
    if (typeof node !== 'object' || typeof node.extension !== 'object' || node.extension === null) return undefined
    extensions.push(node.extension)
    node = node.previous as typeof node
  }
  return extensions.reverse()
}

/** A computed field of a model (a result extension), with the scalar fields it needs (transitively). */
export interface ComputedField {
  readonly name: string
  readonly needs: readonly string[]
}

/** What running a read on another client needs to know of a client's models. */
export interface ModelShapes {
  /** The computed fields of `model` (by Prisma model name), `undefined` when it has none. */
  computed(model: string): Readonly<Record<string, ComputedField>> | undefined
  /** The model a relation field of `model` points to; `undefined` for a scalar or an unknown field. */
  relation(model: string, field: string): string | undefined
  /** Whether `model` has a field (scalar or relation) of that name: a computed field may override one. */
  isField(model: string, field: string): boolean
  /** The client's `omit` setting for `model` (`new PrismaClient({ omit })`), `undefined` when none. */
  globalOmit(model: string): Readonly<Record<string, unknown>> | undefined
}

/**
 * The computed fields (from `_extensions.getAllComputedFields(model)`, needs resolved through other computed
 * fields as Prisma serializes them) and relations (from `_runtimeDataModel`) of `client`'s models; `undefined`
 * when this Prisma Client does not expose them.
 */
export function modelShapesOf(client: unknown): ModelShapes | undefined {
  const c = client as { _extensions?: { getAllComputedFields?: unknown }; _runtimeDataModel?: { models?: unknown }; _globalOmit?: unknown } | null
  const extensions = c?._extensions
  const models = c?._runtimeDataModel?.models
  if (typeof extensions?.getAllComputedFields !== 'function' || typeof models !== 'object' || models === null) return undefined
  const getAll = (extensions.getAllComputedFields as (model: string) => unknown).bind(extensions)
  // Per model: each field's relation target, or `null` for a scalar.
  const fieldsByModel = new Map<string, Map<string, string | null>>()
  const fieldsOf = (model: string): Map<string, string | null> => {
    let byField = fieldsByModel.get(model)
    if (byField) return byField
    byField = new Map()
    const fields = (models as Record<string, { fields?: { name?: unknown; kind?: unknown; type?: unknown }[] } | undefined>)[model]?.fields ?? []
    for (const field of fields) {
      if (typeof field.name !== 'string') continue
      byField.set(field.name, field.kind === 'object' && typeof field.type === 'string' ? field.type : null)
    }
    fieldsByModel.set(model, byField)
    return byField
  }
  const globalOmit = (typeof c?._globalOmit === 'object' && c._globalOmit !== null ? c._globalOmit : {}) as Record<string, Readonly<Record<string, unknown>> | undefined>
  return {
    computed: (model) => getAll(model) as Readonly<Record<string, ComputedField>> | undefined,
    relation: (model, field) => fieldsOf(model).get(field) ?? undefined,
    isField: (model, field) => fieldsOf(model).has(field),
    // Keyed like the client's models (`user` for `User`).
    globalOmit: (model) => globalOmit[model.charAt(0).toLowerCase() + model.slice(1)],
  }
}

/**
 * False when `client` records no call site for its queries: its error format is `minimal` (what Prisma uses
 * when NODE_ENV=production); then nothing needs suppressing. `true` when unknown.
 */
export function recordsCallSites(client: unknown): boolean {
  return (client as { _errorFormat?: unknown } | null)?._errorFormat !== 'minimal'
}

/**
 * `methods` (a client extension's `client` component) plus a `$transaction` that runs `client`'s own
 * `$transaction` through `wrap`, on the client it is called on; typed as `methods`, so that the extended client
 * keeps Prisma's own `$transaction` signature.
 */
export function withTransactionWrapper<T extends object>(client: object, methods: T, wrap: (run: () => PromiseLike<unknown>) => Promise<unknown>): T {
  const original = Reflect.get(client, '$transaction') as (...args: unknown[]) => PromiseLike<unknown>
  function $transaction(this: unknown, ...args: unknown[]): Promise<unknown> {
    const context: unknown = Prisma.getExtensionContext(this)
    return wrap(() => original.apply(context, args))
  }
  return Object.assign(methods, { $transaction })
}

/**
 * The query engine of `client` (`_engine`, shared by the client and every client `$extends` made of it), with the
 * three methods every query passes through: `request` (one query, in an interactive transaction or not),
 * `requestBatch` (a batch `$transaction([...])`, `findUnique`s batched together, or queries of one interactive
 * transaction sent in the same tick) and `transaction` (`start`, `commit`, `rollback`). `undefined` when this
 * Prisma Client has no such engine. Patched by src/prisma/engine-queries.ts; canary in
 * test/prisma/internals.db.test.ts.
 */
export function engineOf(client: unknown): QueryEngine | undefined {
  const engine = (client as { _engine?: unknown } | null)?._engine
  if (typeof engine !== 'object' || engine === null) return undefined
  const { request, requestBatch, transaction } = engine as Record<string, unknown>
  return typeof request === 'function' && typeof requestBatch === 'function' && typeof transaction === 'function' ? (engine as QueryEngine) : undefined
}

/**
 * A query as the engine receives it: Prisma's protocol `action` (`findMany`, `createOne`, `queryRaw`, …); a raw
 * query's SQL text is its `query.arguments.query` (see {@link engineQueryText}).
 */
export interface EngineQuery {
  readonly action?: unknown
  readonly query?: unknown
}

/** The SQL text of a raw query (`queryRaw`, `executeRaw`) as the engine receives it, else `undefined`. */
export function engineQueryText(query: EngineQuery): string | undefined {
  if (query.action !== 'queryRaw' && query.action !== 'executeRaw') return undefined
  const text = (query.query as { arguments?: { query?: unknown } } | undefined)?.arguments?.query
  return typeof text === 'string' ? text : undefined
}

/**
 * The request handler of `client` (`_requestHandler`, shared by the client and every client `$extends` made of
 * it): its `request` is called once per query, in the async context of the code that sent it, before Prisma's
 * DataLoader puts queries of one tick together (a batch `$transaction`, `findUnique`s, an interactive
 * transaction's queries). `undefined` when this Prisma Client has none. Patched by src/prisma/engine-queries.ts;
 * canary in test/prisma/internals.db.test.ts.
 */
export function requestHandlerOf(client: unknown): RequestHandler | undefined {
  const handler = (client as { _requestHandler?: unknown } | null)?._requestHandler
  if (typeof handler !== 'object' || handler === null) return undefined
  return typeof (handler as { request?: unknown }).request === 'function' ? (handler as RequestHandler) : undefined
}

/** One query as the request handler receives it (the parts read here). */
export interface HandledRequest {
  readonly protocolQuery?: EngineQuery
  readonly transaction?: { readonly kind?: unknown; readonly id?: unknown }
}

/** The request handler's method {@link requestHandlerOf} returns. */
export interface RequestHandler {
  request: (this: unknown, request: HandledRequest) => Promise<unknown>
}

/** The engine methods {@link engineOf} returns (as Prisma 7 calls them). */
export interface QueryEngine {
  request: (this: unknown, query: EngineQuery, options?: { readonly interactiveTransaction?: { readonly id?: unknown } }) => Promise<unknown>
  requestBatch: (
    this: unknown,
    queries: readonly EngineQuery[],
    options?: { readonly transaction?: { readonly kind?: unknown; readonly options?: { readonly id?: unknown } } },
  ) => Promise<unknown>
  transaction: (
    this: unknown,
    action: 'start' | 'commit' | 'rollback',
    headers: unknown,
    info: { readonly id?: unknown; readonly newTxId?: unknown } | undefined,
  ) => Promise<unknown>
}

/** Keys of a pg `Pool`'s settings that mean nothing to one connection. */
const POOL_ONLY = new Set(['max', 'min', 'idleTimeoutMillis', 'maxUses', 'maxLifetimeSeconds', 'allowExitOnIdle', 'log', 'onConnect', 'verify', 'Promise'])

/**
 * The node-postgres connection settings of the driver adapter `client` was built with: `new PrismaPg(url)`,
 * `new PrismaPg(config)` or `new PrismaPg(pool)` (`@prisma/adapter-pg`), without pool-only settings. `undefined`
 * for another adapter, Accelerate, or a Prisma Client that no longer keeps its adapter where it is read here.
 */
export function pgSettingsOf(client: unknown): Readonly<Record<string, unknown>> | undefined {
  const factory = (client as { _engineConfig?: { adapter?: unknown } } | null)?._engineConfig?.adapter
  if (typeof factory !== 'object' || factory === null) return undefined
  const { adapterName, config, externalPool } = factory as { adapterName?: unknown; config?: unknown; externalPool?: unknown }
  if (adapterName !== '@prisma/adapter-pg') return undefined
  const poolOptions = (externalPool as { options?: unknown } | null | undefined)?.options
  const settings = typeof poolOptions === 'object' && poolOptions !== null ? poolOptions : config
  if (typeof settings !== 'object' || settings === null) return undefined
  const read = Object.fromEntries(Object.entries(settings).filter(([key]) => !POOL_ONLY.has(key)))
  // node-postgres' Pool keeps `password` as a non-enumerable property of its options (so that it is never
  // logged): read as node-postgres reads it, by name.
  if (Object.hasOwn(settings, 'password')) read.password = (settings as { password?: unknown }).password
  return read
}

/**
 * The connection settings of `@prisma/adapter-neon`'s WebSocket adapter `client` was built with,
 * `new PrismaNeon({ connectionString })` (a PoolConfig of Neon's serverless driver, node-postgres' settings), without
 * pool-only settings. `undefined` for another adapter, and for `PrismaNeonHttp` (queries over HTTP: no session).
 */
export function neonSettingsOf(client: unknown): Readonly<Record<string, unknown>> | undefined {
  const factory = (client as { _engineConfig?: { adapter?: unknown } } | null)?._engineConfig?.adapter
  if (typeof factory !== 'object' || factory === null) return undefined
  const { adapterName, config } = factory as { adapterName?: unknown; config?: unknown }
  if (adapterName !== '@prisma/adapter-neon' || typeof config !== 'object' || config === null) return undefined
  const read = Object.fromEntries(Object.entries(config).filter(([key]) => !POOL_ONLY.has(key)))
  if (Object.hasOwn(config, 'password')) read.password = (config as { password?: unknown }).password
  return read
}

/** The name of the driver adapter `client` was built with (`@prisma/adapter-neon`, …), if it has one. */
export function adapterNameOf(client: unknown): string | undefined {
  const factory = (client as { _engineConfig?: { adapter?: unknown } } | null)?._engineConfig?.adapter
  const name = (factory as { adapterName?: unknown } | null | undefined)?.adapterName
  return typeof name === 'string' ? name : undefined
}

/**
 * True when `client` was built with `@prisma/adapter-mariadb` (MariaDB or MySQL): read from its driver adapter
 * factory's `adapterName`, as {@link pgSettingsOf} reads adapter-pg's.
 */
export function usesMariadbAdapter(client: unknown): boolean {
  const factory = (client as { _engineConfig?: { adapter?: unknown } } | null)?._engineConfig?.adapter
  return (factory as { adapterName?: unknown } | null | undefined)?.adapterName === '@prisma/adapter-mariadb'
}
