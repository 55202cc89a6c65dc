/**
 * PostgreSQL: positions are WAL byte positions (LSNs), read with `pg_current_wal_insert_lsn()` on the primary
 * and `pg_last_wal_replay_lsn()` on a physical streaming replica.
 */
import { sqlstateOf } from '../connection-error.js'
import { ReplicaRouterError } from '../errors/index.js'
import type { Position } from '../position.js'
import type { Row, ServerLink } from '../server-link.js'
import type { Dialect, ReplayObservation } from './dialect.js'

/** `'16/B374D848'` -> a byte position. Throws a ReplicaRouterError for anything else. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text)
  if (!match) throw new ReplicaRouterError(`Not a PostgreSQL LSN: ${JSON.stringify(text.slice(0, 40))}`)
  return (BigInt(`0x${match[1] ?? '0'}`) << 32n) | BigInt(`0x${match[2] ?? '0'}`)
}

/** A byte position -> `'16/B374D848'`. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}

/**
 * Runs {@link PRIMARY_LSN_SQL} on the primary: its WAL insert position less the page header it may point past;
 * `undefined` for SQL NULL.
 */
export async function queryPrimaryLsn(link: ServerLink, foreground: boolean): Promise<bigint | undefined> {
  const row = (await link.query(PRIMARY_LSN_SQL, foreground))[0]
  if (typeof row?.lsn !== 'string') return undefined
  const header = row.header
  return parseLsn(row.lsn) - (typeof header === 'number' || typeof header === 'bigint' ? BigInt(header) : 0n)
}

/**
 * The insert position of a primary whose last record ended exactly at a WAL page boundary points past the next
 * page's header (24 bytes; 40 at the start of a segment), where no replica's replay position (the end of the
 * last record replayed) ever is until more WAL comes: `header` is that header's size, taken off in
 * {@link queryLsn}, so an idle primary's position is one its replicas reach.
 */
const PAGE_HEADER_SQL = (lsn: string) =>
  `CASE WHEN (pg_walfile_name_offset(${lsn})).file_offset = 40 THEN 40 ` +
  `WHEN (pg_walfile_name_offset(${lsn})).file_offset % current_setting('wal_block_size')::int = 24 THEN 24 ELSE 0 END`

/**
 * The SQL of the two position queries, shared by the health check and read-your-writes. The primary's is the
 * WAL *insert* position: with `synchronous_commit = off` (a server setting, or `SET LOCAL` in a transaction) a
 * commit returns before its record is written, so `pg_current_wal_lsn()` (the write position) can be behind a
 * write that has already returned; the insert position never is.
 */
export const PRIMARY_LSN_SQL = `SELECT l::text AS lsn, ${PAGE_HEADER_SQL('l')} AS header FROM pg_current_wal_insert_lsn() AS l`
/** Which server answers: its address and port, and when it started (each start is another incarnation). */
const SERVER_IDENTITY = "concat_ws(':', inet_server_addr(), inet_server_port()) || '@' || pg_postmaster_start_time()::text AS server"
export const REPLAY_LSN_SQL =
  'SELECT pg_last_wal_replay_lsn()::text AS lsn, pg_last_wal_receive_lsn()::text AS received, ' + `${SERVER_IDENTITY}, pg_backend_pid() AS session, pg_is_in_recovery() AS recovery`
/** {@link REPLAY_LSN_SQL} holding its transaction 20 ms (see Dialect.heldReplicaPosition). */
export const HELD_REPLAY_LSN_SQL = `${REPLAY_LSN_SQL}, (SELECT 1 FROM pg_sleep(0.02)) AS held`

function observationOf(row: Row | undefined): ReplayObservation {
  // Out of recovery (promoted, or a primary): `pg_last_wal_replay_lsn()` stays where recovery ended, which is
  // no replay position: the server is not a replica.
  if (row?.recovery === false) return { lsn: undefined, replicating: false, server: typeof row.server === 'string' ? row.server : undefined }
  return {
    lsn: typeof row?.lsn === 'string' ? parseLsn(row.lsn) : undefined,
    received: typeof row?.received === 'string' ? parseLsn(row.received) : undefined,
    server: typeof row?.server === 'string' ? row.server : undefined,
    ...(typeof row?.session === 'number' && { session: row.session }),
  }
}

/** Runs {@link REPLAY_LSN_SQL} on a replica. */
export async function queryReplay(link: ServerLink, foreground: boolean): Promise<ReplayObservation> {
  return observationOf((await link.query(REPLAY_LSN_SQL, foreground))[0])
}

/**
 * True when a failed position query means the server cannot report WAL positions at all: the function does not
 * exist or is not supported (Aurora, other PostgreSQL-compatible servers), may not be called, or returned no
 * position.
 */
function lsnUnavailable(error: unknown): boolean {
  if (error instanceof TypeError) return true
  const sqlstate = sqlstateOf(error)
  return sqlstate === '42883' || sqlstate === '0A000' || sqlstate === '42501'
}

export const postgresql: Dialect = {
  name: 'postgresql',
  primaryPosition: queryPrimaryLsn,
  replicaPosition: queryReplay,
  heldReplicaPosition: async (query) => observationOf((await query(HELD_REPLAY_LSN_SQL))[0]),
  positionUnavailable: lsnUnavailable,
  format: (position: Position) => (typeof position === 'bigint' ? formatLsn(position) : position.toString()),
  runningSql: (ms: number) =>
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' AND usename = session_user " +
    `AND pid <> pg_backend_pid() AND clock_timestamp() - query_start >= make_interval(secs => ${(Math.max(0, Math.floor(ms)) / 1000).toFixed(3)})`,
  serverIdentitySql: `SELECT ${SERVER_IDENTITY}`,
  recoveryConflictsSql:
    'SELECT (confl_tablespace + confl_lock + confl_snapshot + confl_bufferpin + confl_deadlock)::text AS n FROM pg_stat_database_conflicts WHERE datname = current_database()',
}
