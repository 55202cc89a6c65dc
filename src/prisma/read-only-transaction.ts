/**
 * Read-only transactions on a replica (`prisma.$replica().$transaction(fn, options)`): one snapshot for a
 * report or a page that reads several tables, taken on a replica that has replayed the scope's writes (the read
 * decision of src/read-plan.ts), else on the primary. PostgreSQL runs it as `REPEATABLE READ, READ ONLY`
 * (SERIALIZABLE is not available on a hot standby); writes inside are refused before the network.
 *
 * A replica that fails before the callback starts (connecting, `BEGIN`, the snapshot) is replaced as a read's is:
 * another replica that can serve the scope, then the primary. Once the callback has started, every error is the
 * callback's: it is thrown as is, and the callback never runs a second time.
 */
import { InvalidOptionError, ReadOnlyTransactionError } from '../errors/index.js'
import type { ReadPlan } from '../read-plan.js'
import { ReadInFlight, type ReplicaState } from '../replica-set.js'
import { asRouterWork } from '../router-work.js'
import type { Routing } from '../routing.js'
import { tick, type ScopeState } from '../scope.js'
import { RAW_READS, READ_OPERATIONS } from './operations.js'
import { rawCallText } from './internals.js'
import { SqlClassifier } from '../raw-sql/classify-sql.js'
import type { AnyClient } from './types.js'

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
  readonly maxWait?: number
  /** Prisma's `timeout`: how long the transaction may run (ms). */
  readonly timeout?: number
  /** Always `RepeatableRead` (one snapshot); `Serializable` is not available on a hot standby. */
  readonly isolationLevel?: 'RepeatableRead'
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

/**
 * `tx` with every write refused before the network: model writes, `$executeRaw*`, and raw reads that the SQL
 * classifier (src/raw-sql/, PostgreSQL) does not prove plain reads — `COMMIT`, `SET TRANSACTION READ WRITE`,
 * DML in disguise — or every raw query where there is no classifier (MariaDB/MySQL, or `libpg-query` absent).
 */
function readOnlyClient(tx: AnyClient, classifier: SqlClassifier | undefined): AnyClient {
  const delegates = new Map<string, object>()
  return new Proxy(tx, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof property !== 'string') return value
      if (property === '$executeRaw' || property === '$executeRawUnsafe') {
        return () => {
          throw new ReadOnlyTransactionError(undefined, property)
        }
      }
      if (property === '$parent') throw new ReadOnlyTransactionError(undefined, '$parent', 'the client outside the transaction')
      if (property === '$transaction' && typeof value === 'function') {
        // A nested transaction (a savepoint): its client is held to the same refusals; a batch is refused.
        return (fn: unknown, options?: unknown) => {
          if (typeof fn !== 'function') throw new ReadOnlyTransactionError(undefined, '$transaction', 'a batch inside a read-only transaction')
          const inner = (client: AnyClient): unknown => (fn as (tx: AnyClient) => unknown)(readOnlyClient(client, classifier))
          return Reflect.apply(value as (...a: unknown[]) => unknown, receiver, [inner, options])
        }
      }
      if (RAW_READS.has(property) && typeof value === 'function') {
        return (...args: unknown[]) => {
          const text = rawCallText(property, args)
          const verdict = text === undefined || !classifier ? undefined : classifier.classify(text)
          if (!verdict?.replica && !(verdict && 'readsOnly' in verdict)) {
            throw new ReadOnlyTransactionError(
              undefined,
              property,
              verdict ? verdict.reason : classifier ? 'SQL text not recognised' : 'no SQL parser (install `libpg-query`; PostgreSQL only)',
            )
          }
          return Reflect.apply(value as (...a: unknown[]) => unknown, receiver, args)
        }
      }
      if (!isModelDelegate(property, value)) return value
      let delegate = delegates.get(property)
      if (!delegate) delegates.set(property, (delegate = readOnlyDelegate(property, value)))
      return delegate
    },
  })
}

/**
 * A model delegate (`tx.user`, and the `tx.User` alias Prisma also exposes): an object with `findMany`; not a
 * `$` method or one of Prisma's `_` internals.
 */
function isModelDelegate(property: string, value: unknown): value is object {
  return !/^[$_]/.test(property) && typeof value === 'object' && value !== null && typeof (value as { findMany?: unknown }).findMany === 'function'
}

function readOnlyDelegate(model: string, delegate: object): object {
  return new Proxy(delegate, {
    get(target, operation, receiver) {
      const value: unknown = Reflect.get(target, operation, receiver)
      if (typeof operation !== 'string' || typeof value !== 'function' || READ_OPERATIONS.has(operation)) return value
      return () => {
        throw new ReadOnlyTransactionError(model, operation)
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

/** Runs read-only transactions for one routed client. */
export class ReadOnlyTransactions {
  /** @param under the client under the router (the primary). */
  constructor(
    private readonly routing: Routing,
    private readonly under: AnyClient,
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
    return this.classifier().then((classifier) => {
      if (named) {
        router.report.route(undefined, '$transaction', 'forced-replica', named.name)
        return this.onReplica(named, fn, given, false, classifier).catch((error: unknown) => {
          throw error instanceof NotStarted ? error.cause : error
        })
      }
      return reader.decide(undefined, '$transaction', (plan) => this.execute(plan, fn, given, classifier))
    })
  }

  private parser: Promise<SqlClassifier | undefined> | undefined

  /**
   * The SQL classifier raw reads inside read-only transactions are checked with: `raw: 'classify'`'s, else one
   * loaded on first use where `libpg-query` is installed (PostgreSQL); `undefined` (every raw query refused)
   * on MariaDB/MySQL or without it.
   */
  private classifier(): Promise<SqlClassifier | undefined> {
    const { router, raw } = this.routing
    if (raw) return raw.loaded.then(() => raw.classifier).catch(() => undefined)
    if (router.dialect.name !== 'postgresql') return Promise.resolve(undefined)
    return (this.parser ??= (async () => {
      const classifier = new SqlClassifier()
      try {
        await classifier.load()
        return classifier
      } catch {
        return undefined
      }
    })())
  }

  private async execute(plan: ReadPlan, fn: (tx: AnyClient) => Promise<unknown>, given: Record<string, unknown>, classifier: SqlClassifier | undefined): Promise<unknown> {
    const { router } = this.routing
    if (plan.target === 'primary') {
      router.report.route(undefined, '$transaction', plan.reason, undefined, plan.sticky)
      return await this.onPrimary(fn, given, classifier, plan.watched)
    }
    const { watched, confirm } = plan
    let replica: ReplicaState | undefined = plan.replica
    let reason: 'read' | 'rule' | 'retry' = plan.reason
    for (let attempt = 0; replica && attempt < 2; attempt++) {
      router.report.route(undefined, '$transaction', reason, replica.name)
      if (watched) router.readingOn(watched, replica)
      try {
        return await this.onReplica(replica, fn, given, confirm, classifier, watched)
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
    return await this.onPrimary(fn, given, classifier, watched)
  }

  /**
   * On the primary, `READ ONLY` too (PostgreSQL). Like a read there: in a monotonic scope, later reads need the
   * primary's position after it, whether it committed or failed.
   */
  private onPrimary(
    fn: (tx: AnyClient) => Promise<unknown>,
    given: Record<string, unknown>,
    classifier: SqlClassifier | undefined,
    watched: ScopeState | undefined,
  ): Promise<unknown> {
    const mode = this.routing.router.dialect.name === 'postgresql' ? POSTGRESQL_MODE : undefined
    const transaction = (this.under as unknown as TransactionRunner).$transaction(async (tx) => {
      // The router's own statement: not a write of the application's (src/router-work.ts).
      if (mode) await asRouterWork(() => Promise.resolve(tx.$executeRawUnsafe(mode)))
      return await fn(readOnlyClient(tx, classifier))
    }, given)
    return this.routing.router.primaryTransaction(transaction, watched)
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
    classifier: SqlClassifier | undefined,
    watched?: Parameters<Routing['router']['servedBy']>[0],
  ): Promise<unknown> {
    const { router, reader } = this.routing
    const mode = router.dialect.name === 'postgresql' ? POSTGRESQL_MODE : undefined
    const incarnation = replica.incarnation
    const read = new ReadInFlight(replica)
    const progress = { started: false }
    try {
      const result = await (replica.client as unknown as TransactionRunner).$transaction(async (tx) => {
        if (mode) await tx.$executeRawUnsafe(mode)
        if (confirm) {
          await tx.$queryRawUnsafe('SELECT 1') // takes the transaction's snapshot
          if (!(await reader.confirmed(replica, incarnation, tick()))) throw new NotStarted(new Error(`replica \`${replica.name}\` could not be confirmed`))
        }
        progress.started = true
        return await fn(readOnlyClient(tx, classifier))
      }, given)
      read.end(true)
      return result
    } catch (error) {
      read.end(false)
      if (progress.started || error instanceof NotStarted) throw error
      // Before the callback: a failure to connect or begin (a connection-level cause) or of the mode statement.
      throw new NotStarted(error)
    } finally {
      // Whatever the callback read there bounds the scope's later reads, whether it returned or threw.
      if (watched && progress.started) router.servedBy(watched, replica, tick())
    }
  }
}
