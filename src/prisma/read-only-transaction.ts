/**
 * Read-only transactions on a replica (`prisma.$replica().$transaction(fn, options)`): one snapshot for a
 * report or a page that reads several tables, taken on a replica that has replayed the scope's writes (the read
 * decision of src/read-plan.ts), else on the primary. PostgreSQL runs it as `REPEATABLE READ, READ ONLY`
 * (SERIALIZABLE is not available on a hot standby); writes inside are refused before the network.
 *
 * The transaction client is the application's: on a replica, the replica's client with every extension under the
 * router applied again (query components such as soft delete or a tenant filter, computed fields, model and
 * client methods), as `prisma.$transaction` gives them; then a last extension of the router's that refuses writes
 * and answers `$primary()` / `$replica()` with the transaction client itself. The router's own statements (the
 * mode, the snapshot it confirms) go through the bare client of the same transaction, past the extensions
 * (internals.ts, bareTransactionClient): the application's extensions and query log never see them.
 *
 * A replica that fails before the callback starts (connecting, `BEGIN`, the snapshot) is replaced as a read's is:
 * another replica that can serve the scope, then the primary. Once the callback has started, every error is the
 * callback's: it is thrown as is, and the callback never runs a second time.
 */
import { Prisma } from '@prisma/client/extension'
import { connectionErrorCause, isRecoveryConflict, sqlstateOf } from '../connection-error.js'
import { InvalidOptionError, ReadOnlyTransactionError, RecoveryConflictError } from '../errors/index.js'
import type { ReadPlan } from '../read-plan.js'
import { ReadInFlight, type ReplicaState } from '../replica-set.js'
import { asRouterWork, isRouterWork } from '../router-work.js'
import type { Routing } from '../routing.js'
import { tick, type ScopeState } from '../scope.js'
import { modelProperty, RAW_READS, READ_OPERATIONS, WRITE_OPERATIONS } from './operations.js'
import { bareTransactionClient, type ExtensionArgs, rawSqlText, requestOf, runRequest, runsRequests } from './internals.js'
import type { RawTrust } from '../raw-sql/raw-trust.js'
import { ROUTER_EXTENSION } from './composition.js'
import type { AnyClient, QueryParams } from './types.js'

/** A transaction client, as far as this module uses it. */
type TransactionClient = AnyClient & {
  $executeRawUnsafe(sql: string): PromiseLike<unknown>
  $queryRawUnsafe(sql: string): PromiseLike<unknown>
}

/** A client whose `$transaction(fn, options)` runs an interactive transaction. */
interface TransactionRunner {
  $transaction(fn: (tx: TransactionClient) => Promise<unknown>, options: Record<string, unknown>): PromiseLike<unknown>
}

/** Options of a read-only transaction: Prisma's interactive transaction options, isolation fixed. */
export interface ReadOnlyTransactionOptions {
  /** Prisma's `maxWait`: how long to wait for a connection (ms). */
  readonly maxWait?: number | undefined
  /** Prisma's `timeout`: how long the transaction may run (ms). */
  readonly timeout?: number | undefined
  /** Always `RepeatableRead` (one snapshot); `Serializable` is not available on a hot standby. */
  readonly isolationLevel?: 'RepeatableRead' | undefined
}

const OPTION_KEYS = new Set(['maxWait', 'timeout', 'isolationLevel'])

/** PostgreSQL: one snapshot, and the server refuses writes too (also on the primary). */
const POSTGRESQL_MODE = 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY'

/** Validated options for Prisma's `$transaction`. */
function prismaOptions(options: unknown, engine: 'postgresql' | 'mysql'): Record<string, unknown> {
  if (options === undefined) return engine === 'mysql' ? { isolationLevel: 'RepeatableRead' } : {}
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'Expected the options of `$replica().$transaction` to be an object')
  const given = options as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (!OPTION_KEYS.has(key))
      throw new InvalidOptionError(key, `Unknown option \`${key}\` of \`$replica().$transaction\`; expected one of: \`maxWait\`, \`timeout\`, \`isolationLevel\``)
  }
  const { isolationLevel, ...rest } = given
  if (isolationLevel !== undefined && isolationLevel !== 'RepeatableRead') {
    throw new InvalidOptionError(
      'isolationLevel',
      `A read-only transaction runs as \`RepeatableRead\` (one snapshot), got ${JSON.stringify(isolationLevel)}` +
        (isolationLevel === 'Serializable' ? ': SERIALIZABLE is not available on a hot standby (PostgreSQL refuses it on replicas)' : ''),
    )
  }
  // PostgreSQL: the mode is set by the transaction's first statement (below); MariaDB/MySQL: before BEGIN.
  return engine === 'mysql' ? { ...rest, isolationLevel: 'RepeatableRead' } : rest
}

/** The name of the router's last extension on a read-only transaction's client. */
const READ_ONLY_EXTENSION = 'prisma-replica-router/read-only'

/**
 * Why a query may not run in a read-only transaction on `server`, or `undefined` when it may: a model read; a
 * raw read that PostgreSQL's parser proves a plain read (not `COMMIT`, `SET TRANSACTION READ WRITE`, DML in
 * disguise) and, on a replica, that the primary's catalog trusts and no session state keeps on the primary
 * (src/raw-sql/raw-trust.ts); nothing else (model writes, `$executeRaw*`, every raw query where there is no
 * parser: MariaDB/MySQL, or `libpg-query` absent). `batched`: the query runs in an extension's batch on the
 * primary, outside the READ ONLY transaction: a raw read must be proven a plain read by the catalog too.
 */
async function refusal(params: QueryParams, server: string, trust: RawTrust | undefined, batched = false): Promise<ReadOnlyTransactionError | undefined> {
  const { model, operation, args } = params
  if (model !== undefined) return READ_OPERATIONS.has(operation) ? undefined : new ReadOnlyTransactionError(modelProperty(model), operation)
  if (!RAW_READS.has(operation)) return new ReadOnlyTransactionError(undefined, operation)
  const text = rawSqlText(operation, args)
  // In an extension's batch the query runs on the primary outside the READ ONLY transaction: the parser's proof
  // is not enough there (a view or a function of the application's may write), the catalog must trust it too.
  const verdict =
    text === undefined || !trust ? undefined : batched ? await trust.plainRead(text) : server === 'primary' ? trust.classifier.classify(text) : await trust.verdict(text)
  const why = verdict && !verdict.replica ? verdict.reason : trust ? 'SQL text not recognised' : 'no SQL parser (install `libpg-query`; PostgreSQL only)'
  if (batched) return verdict?.replica === true ? undefined : new ReadOnlyTransactionError(undefined, operation, why)
  if (verdict?.replica === true || (verdict && 'readsOnly' in verdict)) return undefined
  return new ReadOnlyTransactionError(undefined, operation, why)
}

/**
 * The router's last extension on a read-only transaction's client (`server`: where the transaction runs): every
 * query the extensions under it let through is checked ({@link refusal}; the router's own statements pass), and
 * `$primary()` / `$replica()` answer with the transaction client itself, as inside `prisma.$transaction`: its
 * queries stay in the transaction, on its one snapshot (`$replica(name)` naming another replica is refused).
 * `trust`: the raw-read trust, once its parser is loaded (`undefined`: no parser). `inBatch`: runs a query that
 * an extension took out of the transaction into a batch of its own (below).
 */
function readOnlyExtension(server: string, trust: () => RawTrust | undefined, inBatch: (params: QueryParams) => PromiseLike<unknown>) {
  /** Refuses `params` where it would run (`on`; `batched`: in a batch of its own), else runs it with `run`. */
  const checked = async (params: QueryParams, on: string, batched: boolean, run: (params: QueryParams) => PromiseLike<unknown>): Promise<unknown> => {
    const refused = await refusal(params, on, trust(), batched)
    if (refused) throw refused
    return await run(params)
  }
  const inTransaction = (params: QueryParams) => params.query(params.args)
  return {
    name: READ_ONLY_EXTENSION,
    query: {
      $allOperations(params: QueryParams): PromiseLike<unknown> {
        if (isRouterWork()) return params.query(params.args)
        // An extension put the query in a batch `$transaction([...])` of the client it captured (row-level
        // security: `set_config`, then the query). Prisma runs it in that batch, not in the interactive
        // transaction; so does the router (a transaction here cannot hold a batch: `guarded` refuses one), on
        // the primary — a read: a write through `tx` is refused there too. A model read's request is returned
        // as it is, no `await` in between: Prisma's batch rejects with the first of its statements' errors to
        // settle, and a validation error names the statement that rendered it — the query's, as with a plain
        // client, only if it settles no later than there.
        if (inBatchTransaction(params)) {
          if (params.model !== undefined && READ_OPERATIONS.has(params.operation)) return inBatch(params)
          return checked(params, 'primary', true, inBatch)
        }
        return checked(params, server, false, inTransaction)
      },
    },
    client: {
      /** The transaction client itself: its queries stay in the read-only transaction. */
      $primary<T>(this: T): T {
        return Prisma.getExtensionContext(this)
      },
      /** The transaction client itself (it runs on `server`); another replica's name is refused. */
      $replica<T>(this: T, name?: string): T {
        if (name !== undefined && name !== server)
          throw new ReadOnlyTransactionError(undefined, '$replica', `this transaction runs on ${server === 'primary' ? 'the primary' : `replica \`${server}\``}, not \`${name}\``)
        return Prisma.getExtensionContext(this)
      },
    },
  }
}

/**
 * `$parent` of a read-only transaction's model delegate (`Prisma.getExtensionContext(this).$parent[ctx.$name]`, as
 * model methods use it): the transaction client under the router's checks, held to reads — its model writes,
 * raw queries, batches and its own `$parent` refused, its delegates the same; reads run in the transaction.
 */
function readsOnly(client: object): object {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof property !== 'string') return value
      if (property === '$parent') return heldToReads(value)
      if (property.startsWith('$') && typeof value === 'function' && /^\$(executeRaw|queryRaw|runCommandRaw|transaction)/.test(property)) {
        return () => Promise.reject(new ReadOnlyTransactionError(undefined, property, 'through `$parent`'))
      }
      return isDelegate(property, value) ? delegateReadsOnly(value, property) : value
    },
  })
}

/** `$parent` as a read-only transaction's delegates give it: {@link readsOnly} (anything else as it is). */
function heldToReads(parent: unknown): unknown {
  return typeof parent === 'object' && parent !== null ? readsOnly(parent) : parent
}

/** True when `value`, a client's `property`, is a model delegate (it has a `$parent`). */
function isDelegate(property: string | symbol, value: unknown): value is object {
  return typeof property === 'string' && !property.startsWith('$') && !property.startsWith('_') && typeof value === 'object' && value !== null && '$parent' in value
}

/** A model delegate of a read-only transaction's client: its `$parent` held to reads ({@link readsOnly}). */
function parentHeld(delegate: object): object {
  return new Proxy(delegate, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      return property === '$parent' ? heldToReads(value) : value
    },
  })
}

/** A model delegate of `$parent` held to reads: its writes refused, its own `$parent` held to reads. */
function delegateReadsOnly(delegate: object, model: string): object {
  return new Proxy(delegate, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (property === '$parent') return heldToReads(value)
      if (typeof property === 'string' && WRITE_OPERATIONS.has(property) && typeof value === 'function') {
        return () => Promise.reject(new ReadOnlyTransactionError(model, property))
      }
      return value
    },
  })
}

/** True when a batch `$transaction([...])` (not the interactive transaction) holds the query. */
function inBatchTransaction(params: QueryParams): boolean {
  const transaction = (requestOf(params) as { transaction?: { kind?: unknown } }).transaction
  return transaction?.kind === 'batch'
}

/**
 * `tx` as the callback gets it: `$parent` (the transaction client of the client under the router's extension,
 * which no check guards) is refused, and so is a batch `$transaction([...])`; a nested `$transaction(fn)` (a
 * savepoint) gets a client held to the same.
 */
function guarded(tx: AnyClient): AnyClient {
  return new Proxy(tx, {
    get(target, property, receiver) {
      if (property === '$parent') throw new ReadOnlyTransactionError(undefined, '$parent', 'the client outside the transaction')
      const value: unknown = Reflect.get(target, property, receiver)
      // A model delegate's `$parent` is the transaction client under the router's checks: held to reads.
      if (isDelegate(property, value)) return parentHeld(value)
      if (property !== '$transaction' || typeof value !== 'function') return value
      return (fn: unknown, options?: unknown) => {
        if (typeof fn !== 'function') throw new ReadOnlyTransactionError(undefined, '$transaction', 'a batch inside a read-only transaction')
        const inner = (client: AnyClient): unknown => (fn as (tx: AnyClient) => unknown)(guarded(client))
        return Reflect.apply(value as (...a: unknown[]) => unknown, receiver, [inner, options])
      }
    },
  })
}

/** The transaction could not start on a replica (its callback had not run): another server may take it. */
class NotStarted extends Error {
  constructor(override readonly cause: unknown) {
    super('the transaction did not start')
  }
}

/** The warning code emitted when a read-only transaction cannot carry the application's extensions to a replica. */
export const READ_ONLY_EXTENSIONS_WARNING = 'PRISMA_REPLICA_ROUTER_READ_ONLY_ON_PRIMARY'

let warned = false

/** One process warning: read-only transactions run on the primary (the extensions under the router are unreadable). */
function warnOnPrimary(): void {
  if (warned) return
  warned = true
  process.emitWarning(
    'prisma-replica-router: this Prisma Client does not let the router read the extensions applied under it (`_extensions`), so ' +
      "`$replica().$transaction(fn)` runs on the primary, where the client's own extensions apply. Please report the Prisma version.",
    { code: READ_ONLY_EXTENSIONS_WARNING },
  )
}

/** Runs read-only transactions for one routed client. */
export class ReadOnlyTransactions {
  /** The client each transaction starts on, per server (`primary` or a replica), made on first use. */
  private readonly runners = new Map<ReplicaState | 'primary', TransactionRunner>()
  /** The raw-read trust once its parser is loaded (the read-only extension checks raw reads with it). */
  private loaded: RawTrust | undefined
  /** Replicas whose count of recovery conflicts could not be read (not asked again). */
  private readonly noConflictCounts = new WeakSet<ReplicaState>()

  /**
   * @param under the client under the router (the primary).
   * @param extensions the extensions applied to `under`, first applied first (internals.ts, extensionsOf):
   *   applied again to a replica's client for a transaction there; `undefined` when they cannot be read (then
   *   every read-only transaction runs on the primary, with one warning).
   */
  constructor(
    private readonly routing: Routing,
    private readonly under: AnyClient,
    private readonly extensions: readonly ExtensionArgs[] | undefined,
  ) {}

  /**
   * Runs `fn` in a read-only transaction: on `named` when given (`$replica(name)`: that replica, whatever the
   * scope requires, without failover), else where the read decision sends a read of the scope.
   */
  run(fn: (tx: AnyClient) => Promise<unknown>, options: unknown, named: ReplicaState | undefined): Promise<unknown> {
    const { router, monitor, reader } = this.routing
    if (typeof fn !== 'function')
      throw new InvalidOptionError('fn', 'Expected `$replica().$transaction` to be given a function (interactive transaction); a batch of queries is not a read-only transaction')
    const given = prismaOptions(options, router.dialect.name)
    monitor.ensureStarted()
    const run = Promise.all([this.parser(), this.routing.internals.run()]).then(([trust, check]) => {
      this.loaded = trust
      if (this.extensions === undefined || !check.chain) {
        // The extensions under the router cannot be read (or not as Prisma defines them): on the primary.
        if (this.extensions === undefined) warnOnPrimary()
        router.report.route(undefined, '$transaction', named ? 'forced-primary' : 'fallback')
        return this.onPrimary(fn, given, router.watchedScope())
      }
      if (named) {
        router.report.route(undefined, '$transaction', 'forced-replica', named.name)
        return this.onReplica(named, fn, given, false).catch((error: unknown) => {
          throw error instanceof NotStarted ? error.cause : error
        })
      }
      return reader.decide(undefined, '$transaction', (plan) => this.execute(plan, fn, given))
    })
    return monitor.sent(run)
  }

  /**
   * The raw-read trust, its parser loaded (PostgreSQL, where `libpg-query` is installed: `raw: 'classify'`'s, or
   * loaded on first use); `undefined` (every raw query refused) on MariaDB/MySQL or without it.
   */
  private parser(): Promise<RawTrust | undefined> {
    const trust = this.routing.trust
    if (!trust) return Promise.resolve(undefined)
    return trust.load().then(
      () => trust,
      () => undefined,
    )
  }

  /**
   * The client a transaction on `server` starts on: the primary's (the client under the router), or the
   * replica's with the extensions under the router applied again (another router's are left out: it would route
   * from inside the transaction); then the router's read-only extension, last.
   */
  private runner(server: ReplicaState | 'primary'): TransactionRunner {
    let runner = this.runners.get(server)
    if (runner) return runner
    const base =
      server === 'primary'
        ? this.under
        : (this.extensions ?? [])
            .filter((e) => e.name?.startsWith(ROUTER_EXTENSION) !== true)
            .reduce((client, extension) => client.$extends(extension), server.client as unknown as AnyClient)
    runner = base.$extends(
      readOnlyExtension(
        server === 'primary' ? 'primary' : server.name,
        () => this.loaded,
        (params) => this.inBatch(params),
      ),
    )
    this.runners.set(server, runner)
    return runner
  }

  /**
   * A query of a read-only transaction that an extension put in a batch of the client it captured: run in that
   * batch, as Prisma runs it — on the primary (that client is under the router), on the request handler that holds
   * the batch. Alone on a replica, or in the transaction on the primary (where the query's own pipeline took it),
   * it ran without what the batch set (row-level security's tenant).
   */
  private inBatch(params: QueryParams): PromiseLike<unknown> {
    const { router } = this.routing
    const model = params.model === undefined ? undefined : modelProperty(params.model)
    if (!runsRequests(this.under)) return Promise.reject(new ReadOnlyTransactionError(model, params.operation, 'an extension put it in a batch transaction of another client'))
    router.report.route(params.model, params.operation, 'transaction')
    return router.transactionQuery(runRequest(this.under, { ...requestOf(params), args: params.args }))
  }

  private async execute(plan: ReadPlan, fn: (tx: AnyClient) => Promise<unknown>, given: Record<string, unknown>): Promise<unknown> {
    const { router } = this.routing
    if (plan.target === 'primary') {
      router.report.route(undefined, '$transaction', plan.reason, undefined, plan.sticky)
      return await this.onPrimary(fn, given, plan.watched)
    }
    const { watched, confirm } = plan
    let replica: ReplicaState | undefined = plan.replica
    let reason: 'read' | 'rule' | 'retry' = plan.reason
    for (let attempt = 0; replica && attempt < 2; attempt++) {
      router.report.route(undefined, '$transaction', reason, replica.name)
      if (watched) router.readingOn(watched, replica)
      try {
        return await this.onReplica(replica, fn, given, confirm, watched)
      } catch (error) {
        if (!(error instanceof NotStarted)) throw error
        // Not started: a connection failure takes the replica out of rotation, then another may take it; an
        // unconfirmed replica (it went back in time) or any other failure: the primary.
        if (!router.set.failedBy(replica, error.cause)) break
        router.report.retries += 1
        replica = router.set.pick({ model: undefined, operation: '$transaction' }, replica, plan.candidates, plan.policy)
        reason = 'retry'
      }
    }
    router.report.route(undefined, '$transaction', 'retry')
    return await this.onPrimary(fn, given, watched)
  }

  /**
   * On the primary, `READ ONLY` too (PostgreSQL). Like a read there: in a monotonic scope, later reads need the
   * primary's position after it, whether it committed or failed.
   */
  private onPrimary(fn: (tx: AnyClient) => Promise<unknown>, given: Record<string, unknown>, watched: ScopeState | undefined): Promise<unknown> {
    const mode = this.routing.router.dialect.name === 'postgresql' ? POSTGRESQL_MODE : undefined
    const transaction = this.runner('primary').$transaction(async (tx) => {
      if (mode) await own(tx, (bare) => bare.$executeRawUnsafe(mode))
      return await fn(guarded(tx))
    }, given)
    return this.routing.router.primaryTransaction(transaction, watched)
  }

  /**
   * The error a read-only transaction on `replica` fails with, once its callback started: a
   * {@link RecoveryConflictError} when the replica cancelled it for a conflict with recovery — the statement's own
   * error says so, or (the session ended while the callback waited: PostgreSQL ends an idle transaction's
   * session) the replica, asked on the router's own connection, counts more conflicts than at the transaction's
   * start (`before`) —; else `error` as it is. Never run again: the callback may have done anything.
   */
  private async conflictOr(replica: ReplicaState, error: unknown, before: bigint | undefined): Promise<unknown> {
    const { router } = this.routing
    let conflict = isRecoveryConflict(error)
    const sql = router.dialect.recoveryConflictsSql
    // Only a session that ended under the transaction (PostgreSQL ends an idle one that conflicts): the count is
    // the database's, so any other failure keeps its own error. The ended session counts its conflict as it
    // exits, about when its client sees the connection close: asked up to five times, 100 ms apart, while the
    // count is still the start's (twice, 50 ms apart, missed 1 conflict in 177 in the 10-minute soak).
    if (!conflict && before !== undefined && sql !== undefined && SESSION_ENDED.has(connectionErrorCause(error) ?? '')) {
      for (let look = 0; look < 5; look++) {
        if (look > 0) await new Promise((resolve) => setTimeout(resolve, 100))
        const asked = this.routing.monitor.ownQuery(replica, sql)
        if (!asked) break
        const now = await asked.then(conflictCount, () => undefined)
        if (now === before) continue
        conflict = now !== undefined && now > before
        break
      }
    }
    if (!conflict) return error
    router.report.recoveryConflict(replica, 'transaction')
    return new RecoveryConflictError(replica.name, { cause: error })
  }

  /**
   * On `replica`: its mode set, then (when the choice relied on what was known of the replica) the snapshot
   * taken and confirmed by a check that started after it — the same server, not gone back in time — before the
   * callback runs. Rejects with {@link NotStarted} when the callback has not started.
   */
  private async onReplica(
    replica: ReplicaState,
    fn: (tx: AnyClient) => Promise<unknown>,
    given: Record<string, unknown>,
    confirm: boolean,
    watched?: Parameters<Routing['router']['servedBy']>[0],
  ): Promise<unknown> {
    const { router, reader } = this.routing
    const mode = router.dialect.name === 'postgresql' ? POSTGRESQL_MODE : undefined
    const incarnation = replica.incarnation
    const read = new ReadInFlight(replica)
    const progress: { started: boolean; conflicts?: bigint } = { started: false }
    const conflictsSql = router.dialect.recoveryConflictsSql
    try {
      const result = await this.runner(replica).$transaction(async (tx) => {
        if (mode) await own(tx, (bare) => bare.$executeRawUnsafe(mode))
        if (conflictsSql !== undefined && !this.noConflictCounts.has(replica)) {
          // The replica's recovery conflicts so far (it also takes the transaction's snapshot): should the server
          // end the session while the callback waits, this tells whether a conflict with recovery did it. A
          // server that cannot tell (a PostgreSQL-compatible one without the view) is not asked again.
          try {
            progress.conflicts = conflictCount(await own(tx, (bare) => bare.$queryRawUnsafe(conflictsSql)))
          } catch (error) {
            // Only a server without the view (or the right to read it): a conflict or a lost connection that
            // cancelled this statement says nothing of the next transaction's.
            if (NO_CONFLICT_VIEW.has(sqlstateOf(error) ?? '')) this.noConflictCounts.add(replica)
            throw error
          }
        } else if (confirm) {
          await own(tx, (bare) => bare.$queryRawUnsafe('SELECT 1')) // takes the transaction's snapshot
        }
        if (confirm && !(await reader.confirmed(replica, incarnation, tick()))) throw new NotStarted(new Error(`replica \`${replica.name}\` could not be confirmed`))
        progress.started = true
        return await fn(guarded(tx))
      }, given)
      read.end(true)
      return result
    } catch (error) {
      read.end(false)
      if (progress.started) throw await this.conflictOr(replica, error, progress.conflicts)
      if (error instanceof NotStarted) throw error
      // Before the callback: a failure to connect or begin (a connection-level cause) or of the mode statement.
      throw new NotStarted(error)
    } finally {
      // Whatever the callback read there bounds the scope's later reads, whether it returned or threw.
      if (watched && progress.started) router.servedBy(watched, replica, tick())
    }
  }
}

/** SQLSTATEs of a server that cannot count recovery conflicts: no such relation or function, no privilege, not supported. */
const NO_CONFLICT_VIEW: ReadonlySet<string> = new Set(['42P01', '42883', '42501', '0A000'])

/** Causes (connectionErrorCause) of a transaction whose session the server ended while it waited. */
const SESSION_ENDED: ReadonlySet<string> = new Set(['connection-terminated', 'ConnectionClosed', 'P1017'])

/** The count a {@link Dialect.recoveryConflictsSql} query returned (`undefined`: none). */
function conflictCount(rows: unknown): bigint | undefined {
  const n = Array.isArray(rows) ? (rows[0] as { n?: unknown } | undefined)?.n : undefined
  return typeof n === 'string' && /^\d+$/.test(n) ? BigInt(n) : undefined
}

/**
 * Sends the router's own statement in the transaction of `tx`: through the bare client of that transaction
 * (none of the application's extensions, its query log's only), as the router's own work (never a write of the
 * application's on the primary: src/router-work.ts); through `tx` where this Prisma Client offers no bare one.
 */
function own(tx: TransactionClient, send: (client: TransactionClient) => PromiseLike<unknown>): Promise<unknown> {
  const bare = (bareTransactionClient(tx) ?? tx) as TransactionClient
  return asRouterWork(() => Promise.resolve(send(bare)))
}
