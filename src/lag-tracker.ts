/** `'16/B374D848'` -> a byte position. Throws a TypeError for anything else. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text)
  if (!match) throw new TypeError(`Not a PostgreSQL LSN: ${JSON.stringify(text.slice(0, 40))}`)
  return (BigInt(`0x${match[1] ?? '0'}`) << 32n) | BigInt(`0x${match[2] ?? '0'}`)
}

/** A byte position -> `'16/B374D848'`. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}

/** The part of a PrismaClient used to ask a server for a WAL position. */
interface RawQueryable {
  $queryRawUnsafe(query: string): PromiseLike<unknown>
}

/**
 * Runs `sql`, which returns one row with a `lsn` text column (`pg_current_wal_lsn()::text AS lsn` on the
 * primary, `pg_last_wal_replay_lsn()::text AS lsn` on a replica), and parses it; `undefined` for SQL NULL
 * (a server not in recovery has no replay position).
 */
export async function queryLsn(client: RawQueryable, sql: string): Promise<bigint | undefined> {
  const rows = await client.$queryRawUnsafe(sql)
  const lsn = Array.isArray(rows) ? (rows[0] as { lsn?: unknown } | undefined)?.lsn : undefined
  return typeof lsn === 'string' ? parseLsn(lsn) : undefined
}

/** The SQL of the two position queries, shared by the health check and read-your-writes. */
export const PRIMARY_LSN_SQL = 'SELECT pg_current_wal_lsn()::text AS lsn'
export const REPLAY_LSN_SQL = 'SELECT pg_last_wal_replay_lsn()::text AS lsn'

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

  /** Records the primary's position `lsn` observed at `at` (ms, monotonic clock). */
  record(lsn: bigint, at: number): void {
    const last = this.samples.at(-1)
    if (last && lsn <= last.lsn) return // no new WAL: the first time we saw this position stays the reference
    this.samples.push({ at, lsn })
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
