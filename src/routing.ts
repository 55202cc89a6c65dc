/**
 * The parts of one routed client, wired together: consistency (src/router.ts, holding the replica set and route
 * reporting), the health check (src/health-monitor.ts) and the reader that decides and executes reads
 * (src/replica-reader.ts), all on the router's own connections (src/router-connections.ts). Knows nothing of
 * Prisma's extension API; src/read-replicas.ts puts these parts behind it.
 */
import { InvalidOptionError, ReplicaRouterError, TimeoutError } from './errors/index.js'
import type { SqlClassifier } from './raw-sql/classify-sql.js'
import { RawTrust } from './raw-sql/raw-trust.js'
import { connectionIdleMs, HealthMonitor } from './health-monitor.js'
import type { Dialect } from './dialects/dialect.js'
import { mysqlFamily } from './dialects/mysql-family.js'
import { postgresql } from './dialects/postgresql.js'
import type { PrismaClientLike, ResolvedOptions } from './options.js'
import type { Position } from './position.js'
import { observePrimaryQueries, type PrimaryQueryObserver } from './prisma/engine-queries.js'
import { usesMariadbAdapter } from './prisma/internals.js'
import { InternalsGate } from './prisma/self-check.js'
import { ReplicaReader } from './replica-reader.js'
import { Router } from './router.js'
import { linkTo } from './router-connections.js'
import { within } from './within.js'

/** The warning code emitted when the primary's queries cannot be observed below the client. */
export const QUERIES_UNOBSERVED_WARNING = 'PRISMA_REPLICA_ROUTER_QUERIES_UNOBSERVED'

export interface Routing {
  /** Consistency; with `router.set` (the replica set) and `router.report` (route reporting). */
  readonly router: Router
  readonly monitor: HealthMonitor
  readonly reader: ReplicaReader
  /** `raw: 'classify'`: the classifier of raw reads (`trust`'s), and its parser's loading (begun at construction). */
  readonly raw: { readonly classifier: SqlClassifier; readonly loaded: Promise<void> } | undefined
  /**
   * PostgreSQL: whether a raw read may run on a replica (the parser, the primary's catalog, session state there),
   * for `raw: 'classify'` and read-only transactions; `undefined` on MariaDB / MySQL.
   */
  readonly trust: RawTrust | undefined
  /**
   * Told of every query the primary's engine runs for the application, whichever client sent it (held here:
   * the engine keeps it weakly).
   */
  readonly primaryQueries: PrimaryQueryObserver
  /** The self-check of the Prisma internals the router's own paths use, run at the first query (src/prisma/self-check.ts). */
  readonly internals: InternalsGate
}

/**
 * The database engine behind `client`, from its driver adapter: `@prisma/adapter-mariadb` serves MariaDB and
 * MySQL (which of the two is asked of the server, src/dialects/mysql-family.ts); anything else is taken for
 * PostgreSQL (whose position queries fail clearly elsewhere: read-your-writes then uses the window).
 */
export function dialectOf(client: unknown): Dialect {
  return usesMariadbAdapter(client) ? mysqlFamily : postgresql
}

/** The routing parts for `primary` (the client extended) and the replicas of `options`. */
export function createRouting(options: ResolvedOptions, primary: PrismaClientLike): Routing {
  const idleMs = connectionIdleMs(options.health)
  const primaryLink = linkTo(primary, 'the primary', idleMs, options.primaryConnection)
  const dialect = dialectOf(primary)
  const primaryLsn = async (): Promise<Position> => {
    // Bounded like a health check: a read never waits on a hung primary connection (it goes to the primary).
    const lsn = await within(dialect.primaryPosition(primaryLink, true), options.health.timeoutMs, 'the primary’s WAL position').catch((error: unknown) => {
      if (error instanceof TimeoutError) primaryLink.reset()
      throw error
    })
    if (lsn === undefined) throw new ReplicaRouterError(`the primary reported no replication position (${dialect.name})`)
    return lsn
  }
  const router = new Router(options, primaryLsn, (r) => linkTo(r.client, `replica \`${r.name}\``, idleMs, r.connection), dialect)
  const monitor = new HealthMonitor(router, primaryLink, options)
  const reader = new ReplicaReader(router, options, {
    alive: (replica) => monitor.alive(replica),
    running: (replica, ms) => monitor.runsStatementOf(replica, ms),
  })
  const trust = dialect.name === 'postgresql' ? new RawTrust(primaryLink, options.health.timeoutMs) : undefined
  const primaryQueries: PrimaryQueryObserver = {
    wrote: () => {
      router.observedWrite()
    },
    read: () => {
      router.observedRead()
    },
    raw: (sql) => {
      trust?.sent(sql)
    },
  }
  if (!observePrimaryQueries(primary, primaryQueries)) warnUnobserved()
  return { router, monitor, reader, raw: options.raw === 'classify' ? rawClassifier(trust) : undefined, trust, primaryQueries, internals: new InternalsGate(primary) }
}

let warned = false

/** One process warning: this Prisma Client does not let the router see the primary's queries below the client. */
function warnUnobserved(): void {
  if (warned) return
  warned = true
  process.emitWarning(
    "prisma-replica-router: this Prisma Client has no query engine the router can observe (`_engine.request`), so a write sent through a client an extension captured (one applied before readReplicas, or a model method's) counts for read-your-writes only when it passes through the routed client. Please report the Prisma version.",
    { code: QUERIES_UNOBSERVED_WARNING },
  )
}

/** `raw: 'classify'`: PostgreSQL only; the parser starts loading now, so that the first raw read does not wait. */
function rawClassifier(trust: RawTrust | undefined): NonNullable<Routing['raw']> {
  if (!trust) {
    throw new InvalidOptionError('raw', "`raw: 'classify'` parses PostgreSQL's SQL only; this client's adapter is MariaDB / MySQL: use `raw: 'primary'`")
  }
  const loaded = trust.load()
  // A missing parser is reported by the first raw read (a typed error), never as an unhandled rejection.
  loaded.catch(() => undefined)
  return { classifier: trust.classifier, loaded }
}
