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

import type { ServerLink } from './server-link.js'
import { ReplicaRouterError } from './errors/index.js'

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
export const REPLAY_LSN_SQL =
  'SELECT pg_last_wal_replay_lsn()::text AS lsn, pg_last_wal_receive_lsn()::text AS received, ' +
  "concat_ws(':', inet_server_addr(), inet_server_port()) || '@' || pg_postmaster_start_time()::text AS server"

/** A replica's replay position and the server that reported it (`address:port@start time`). */
export interface ReplayObservation {
  /** `undefined`: the server is not in recovery (promoted, or a primary). */
  readonly lsn: bigint | undefined
  /**
   * How far it has received the primary's WAL (`undefined` if never): a lower bound of the primary's position,
   * which measures lag when the router does not ask the primary itself (see HealthMonitor).
   */
  readonly received?: bigint | undefined
  /** Which server answered: different for each server behind one entry, and for each start of a server. */
  readonly server: string | undefined
}

/** Runs {@link REPLAY_LSN_SQL} on a replica. */
export async function queryReplay(link: ServerLink, foreground: boolean): Promise<ReplayObservation> {
  const row = (await link.query(REPLAY_LSN_SQL, foreground))[0]
  return {
    lsn: typeof row?.lsn === 'string' ? parseLsn(row.lsn) : undefined,
    received: typeof row?.received === 'string' ? parseLsn(row.received) : undefined,
    server: typeof row?.server === 'string' ? row.server : undefined,
  }
}

const MAX_SAMPLES = 10_000

/**
 * Measures replication lag in time the way the issue asks: how long a replica has been behind the position it
 * has replayed, i.e. since the primary was first SEEN past that position. Samples of the primary's WAL position
 * are recorded on every health check; a replica that replayed everything the primary had at the last sample has
 * no lag, however idle the primary (unlike `now() - pg_last_xact_replay_timestamp()`, which grows while the
 * primary is idle). Resolution: the health-check interval (the value is a lower bound by at most one interval).
 */
export class LagTracker {
  private readonly samples: { at: number; lsn: bigint }[] = []

  /**
   * Records the primary's position `lsn` observed at `at` (ms, monotonic clock). `afterGap`: the first sample
   * after a time without samples (the health check paused while idle): the primary may have passed every
   * position up to `lsn` right after the previous sample, so the sample counts from then (lag is never
   * under-estimated because of the pause).
   */
  record(lsn: bigint, at: number, afterGap = false): void {
    const last = this.samples.at(-1)
    if (last && lsn <= last.lsn) return // no new WAL: the first time we saw this position stays the reference
    this.samples.push({ at: afterGap && last ? last.at : at, lsn })
    if (this.samples.length > MAX_SAMPLES) this.samples.shift()
  }

  /** The latest primary position recorded, if any. */
  get latest(): bigint | undefined {
    return this.samples.at(-1)?.lsn
  }

  /** Bytes of WAL the replica has not replayed yet, against the latest sample (never negative). */
  lagBytes(replay: bigint): number {
    const latest = this.latest
    return latest === undefined || replay >= latest ? 0 : Number(latest - replay)
  }

  /** Milliseconds since the primary was first seen past `replay`; 0 when the replica has replayed all samples. */
  lagMs(replay: bigint, now: number): number {
    for (const sample of this.samples) {
      if (sample.lsn > replay) return Math.max(0, now - sample.at)
    }
    return 0
  }

  /** Forgets samples no replica needs any more: all but the last one at or below `minReplay`. */
  prune(minReplay: bigint): void {
    while (this.samples.length > 1 && (this.samples[1]?.lsn ?? 0n) <= minReplay) this.samples.shift()
  }
}
