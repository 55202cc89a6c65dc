import { MariadbGtidPosition } from './dialects/mariadb-gtid.js'
import { MysqlGtidSet } from './dialects/mysql-gtid.js'
import { InvalidConsistencyTokenError } from './errors/index.js'
import type { Position } from './position.js'

/** What a consistency token carries: the scope's last write, as a replication position and a wall-clock time. */
export interface ConsistencyPoint {
  /**
   * The primary's position at or after the scope's last write: a WAL position (PostgreSQL; `0n`: none), a
   * MariaDB GTID position or a MySQL GTID set.
   */
  readonly lsn: Position
  /** When the write happened (ms since the epoch). */
  readonly time: number
}

/** Version 1 (PostgreSQL WAL positions): at most 64 characters. */
const V1 = /^1\.([0-9a-f]{1,16})\.([0-9a-z]{1,11})$/
const V1_MAX_LENGTH = 64
/**
 * Version 2 (GTIDs): `m` MariaDB or `y` MySQL, then the position as the server prints it with `,` written `_`
 * (a comma is not allowed in a cookie value). At most 512 characters: a position of more than
 * {@link MAX_GTID_LENGTH} characters (dozens of domains or sources) is not put in a token:
 * `$consistencyToken()` then returns one with the time only, and a router in LSN mode seeded with it asks the
 * primary's position afresh (which covers the write, made before the token).
 */
const V2 = /^2\.([my])\.([0-9a-z:_-]{0,496})\.([0-9a-z]{1,11})$/
const MAX_LENGTH = 512
/** The longest position a v2 token carries: 512 less `2.m.`, the dot and 11 characters of time. */
const MAX_GTID_LENGTH = 496

/**
 * `1.<lsn, hex>.<time, base 36>` for a WAL position (at most ~30 ASCII characters), `2.<m|y>.<gtid>.<time>` for
 * a GTID position: safe in a cookie or a header. A GTID position too long for a token is left out (`1.0.<time>`:
 * the scope then keeps to the primary for the sticky window after that time).
 */
export function encodeConsistencyToken(point: ConsistencyPoint): string {
  const time = Math.max(0, Math.floor(point.time)).toString(36)
  const { lsn } = point
  if (typeof lsn === 'bigint') return `1.${lsn.toString(16)}.${time}`
  const position = lsn.toString().replaceAll(',', '_')
  return position.length <= MAX_GTID_LENGTH ? `2.${lsn.kind === 'mariadb' ? 'm' : 'y'}.${position}.${time}` : `1.0.${time}`
}

/**
 * Parses a token made by `$consistencyToken()`. Untrusted input: throws {@link InvalidConsistencyTokenError}
 * for anything else (empty, truncated, another version, too long, non-ASCII, a position that is not one, a
 * time that is not a date), never anything worse. A time in the future (clock skew, forgery) is clamped to now.
 */
export function parseConsistencyToken(token: unknown, now = Date.now()): ConsistencyPoint {
  if (typeof token !== 'string') throw new InvalidConsistencyTokenError(`expected a string, got ${token === null ? 'null' : typeof token}`)
  if (token.length === 0) throw new InvalidConsistencyTokenError('empty')
  const version = token.slice(0, token.indexOf('.'))
  if (version === '1' && token.length > V1_MAX_LENGTH) throw new InvalidConsistencyTokenError(`longer than ${String(V1_MAX_LENGTH)} characters`)
  if (token.length > MAX_LENGTH) throw new InvalidConsistencyTokenError(`longer than ${String(MAX_LENGTH)} characters`)
  if (version !== '1' && version !== '2') {
    if (!/^[0-9]+$/.test(version)) throw new InvalidConsistencyTokenError('not of the form <version>.<position>.<time>')
    throw new InvalidConsistencyTokenError(`unsupported version ${version}`)
  }
  const v1 = version === '1' ? V1.exec(token) : null
  const v2 = version === '2' ? V2.exec(token) : null
  const timeText = v1 ? v1[2] : v2?.[3]
  if (timeText === undefined) throw new InvalidConsistencyTokenError('not of the form <version>.<position>.<time>')
  const time = parseInt(timeText, 36)
  if (!Number.isSafeInteger(time)) throw new InvalidConsistencyTokenError('time out of range')
  if (v1) return { lsn: BigInt(`0x${v1[1] ?? '0'}`), time: Math.min(time, now) }
  const text = (v2?.[2] ?? '').replaceAll('_', ',')
  let lsn: Position
  try {
    lsn = v2?.[1] === 'm' ? MariadbGtidPosition.parse(text) : MysqlGtidSet.parse(text)
  } catch {
    throw new InvalidConsistencyTokenError('not a GTID position')
  }
  return { lsn, time: Math.min(time, now) }
}
