/**
 * MariaDB and MySQL: positions are GTIDs. MariaDB: `@@gtid_binlog_pos` on the primary (its binary log holds
 * every commit that has returned) and `@@gtid_slave_pos` on a replica (what its applier has committed), compared
 * per replication domain (src/dialects/mariadb-gtid.ts). MySQL 8: `@@GLOBAL.gtid_executed` on both, a GTID set
 * (src/dialects/mysql-gtid.ts). Which of the two a server is, is asked once per connection (`VERSION()`).
 *
 * Replicas must replicate with GTIDs (MariaDB: `MASTER_USE_GTID=slave_pos`; MySQL: `gtid_mode=ON`): a replica
 * that replicates by binary log file and offset never shows the primary's GTIDs, so reads that must see a write
 * go to the primary (never stale, but no offload) and `maxLag` takes it out of rotation.
 *
 * Verified on MariaDB 10.11 primaries and replicas (the test suite starts them); MySQL only against its manual.
 */
import { ReplicaRouterError } from '../errors/index.js'
import type { Position } from '../position.js'
import type { Row, ServerLink } from '../server-link.js'
import type { Dialect, ReplayObservation } from './dialect.js'
import { MariadbGtidPosition } from './mariadb-gtid.js'
import { MysqlGtidSet } from './mysql-gtid.js'

type Engine = 'mariadb' | 'mysql'

/** Server identity: address, port and server id (neither engine exposes a start time to compare restarts by). */
const IDENTITY = "CONCAT(@@hostname, ':', @@port, '#', @@server_id) AS server"
/** A replica: read-only, or with its replication threads configured (`Slave_running` / a replica channel). */
export const MARIADB_PRIMARY_SQL = 'SELECT @@GLOBAL.gtid_binlog_pos AS pos'
export const MARIADB_REPLICA_SQL = 'SELECT @@GLOBAL.gtid_slave_pos AS pos, @@GLOBAL.read_only AS ro, ' + IDENTITY
export const MYSQL_PRIMARY_SQL = 'SELECT @@GLOBAL.gtid_executed AS pos'
export const MYSQL_REPLICA_SQL = 'SELECT @@GLOBAL.gtid_executed AS pos, @@GLOBAL.read_only AS ro, ' + IDENTITY

/** A MariaDB / MySQL flag or status that is set: `1` (as a number, BigInt or text) or `ON`. */
export const isOn = (value: unknown): boolean => value === 1 || value === 1n || value === '1' || value === 'ON'

const engines = new WeakMap<ServerLink, Promise<Engine>>()
/** Links whose server refused `SHOW SLAVE STATUS` (no privilege): not asked again. */
const statusRefused = new WeakSet<ServerLink>()

/**
 * `Seconds_Behind_Master` (`Seconds_Behind_Source` on MySQL 8.0.22+) where the router may ask for it, else
 * `undefined` (and it is not asked again on this connection). `null` while the applier is stopped.
 */
async function serverSeconds(link: ServerLink, engine: Engine): Promise<number | null | undefined> {
  if (statusRefused.has(link)) return undefined
  try {
    const [row] = await link.query(engine === 'mariadb' ? 'SHOW SLAVE STATUS' : 'SHOW REPLICA STATUS', false)
    if (!row) return undefined // not a replica (no replication configured)
    const value = 'Seconds_Behind_Master' in row ? row.Seconds_Behind_Master : row.Seconds_Behind_Source
    if (value === null) return null // its applier is stopped: no value, not "0"
    return value === undefined ? undefined : Number(value)
  } catch (error) {
    const errno = errnoOf(error)
    if (errno === undefined || !UNAVAILABLE.has(errno)) throw error // the connection's trouble, not a refusal
    statusRefused.add(link)
    return undefined
  }
}

/** Which engine answers through `link`, asked once (`VERSION()` says MariaDB on MariaDB). */
function engineOf(link: ServerLink, foreground: boolean): Promise<Engine> {
  let engine = engines.get(link)
  if (!engine) {
    engine = link.query('SELECT VERSION() AS v', foreground).then((rows) => ((text(rows[0]?.v) ?? '').includes('MariaDB') ? 'mariadb' : 'mysql'))
    engine.catch(() => engines.delete(link)) // asked again next time
    engines.set(link, engine)
  }
  return engine
}

/** A driver value as text: strings as they are, Buffers decoded. */
function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array) return new TextDecoder().decode(value)
  return undefined
}

function parse(engine: Engine, row: Row | undefined): Position | undefined {
  const pos = text(row?.pos)
  if (pos === undefined) return undefined
  return engine === 'mariadb' ? MariadbGtidPosition.parse(pos) : MysqlGtidSet.parse(pos)
}

/** 1064 syntax, 1193 unknown system variable, 1227 / 1142 / 1044 no privilege. */
const UNAVAILABLE = new Set([1064, 1193, 1227, 1142, 1044])

function errnoOf(error: unknown, depth = 0): number | undefined {
  if (typeof error !== 'object' || error === null || depth > 4) return undefined
  const record = error as Record<string, unknown>
  for (const key of ['errno', 'originalCode', 'code']) {
    const value = record[key]
    if (typeof value === 'number') return value
    if (typeof value === 'string' && /^\d{4,5}$/.test(value)) return Number(value)
  }
  const meta = record.meta as Record<string, unknown> | undefined
  const adapter = (meta?.driverAdapterError as Record<string, unknown> | undefined)?.cause
  const nested = adapter ?? record.cause
  return nested === undefined || nested === error ? undefined : errnoOf(nested, depth + 1)
}

export const mysqlFamily: Dialect = {
  name: 'mysql',

  async primaryPosition(link: ServerLink, foreground: boolean): Promise<Position | undefined> {
    const engine = await engineOf(link, foreground)
    const rows = await link.query(engine === 'mariadb' ? MARIADB_PRIMARY_SQL : MYSQL_PRIMARY_SQL, foreground)
    return parse(engine, rows[0])
  },

  async replicaPosition(link: ServerLink, foreground: boolean): Promise<ReplayObservation> {
    const engine = await engineOf(link, foreground)
    const row = (await link.query(engine === 'mariadb' ? MARIADB_REPLICA_SQL : MYSQL_REPLICA_SQL, foreground))[0]
    const readOnly = isOn(row?.ro)
    const server = text(row?.server)
    // A writable server is not a replica (promoted, or a primary by mistake): it has no position to rely on.
    const lsn = readOnly ? parse(engine, row) : undefined
    // The health check (background) also asks the replica's own view of its lag; a read waiting never does.
    if (foreground || lsn === undefined) return { lsn, server }
    const seconds = await serverSeconds(link, engine)
    return seconds === undefined ? { lsn, server } : { lsn, server, serverSeconds: seconds }
  },

  positionUnavailable(error: unknown): boolean {
    if (error instanceof ReplicaRouterError) return true // a position the engine printed that is not one
    const errno = errnoOf(error)
    return errno !== undefined && UNAVAILABLE.has(errno)
  },

  format: (position: Position) => position.toString(),
}
