import { InvalidConsistencyTokenError } from './errors/index.js'

/** What a consistency token carries: the scope's last write, as a WAL position and a wall-clock time. */
export interface ConsistencyPoint {
  /** Primary WAL position at or after the scope's last write. */
  readonly lsn: bigint
  /** When the write happened (ms since the epoch). */
  readonly time: number
}

const VERSION = '1'
const MAX_LENGTH = 64
const FORMAT = /^([0-9]+)\.([0-9a-f]{1,16})\.([0-9a-z]{1,11})$/

/** `1.<lsn, hex>.<time, base 36>`: at most ~30 ASCII characters, safe in a cookie or a header. */
export function encodeConsistencyToken(point: ConsistencyPoint): string {
  return `${VERSION}.${point.lsn.toString(16)}.${Math.max(0, Math.floor(point.time)).toString(36)}`
}

/**
 * Parses a token made by `$consistencyToken()`. Untrusted input: throws {@link InvalidConsistencyTokenError}
 * for anything else (empty, truncated, another version, longer than 64 characters, non-ASCII, a time that is
 * not a date), never anything worse. A time in the future (clock skew, forgery) is clamped to now.
 */
export function parseConsistencyToken(token: unknown, now = Date.now()): ConsistencyPoint {
  if (typeof token !== 'string') throw new InvalidConsistencyTokenError(`expected a string, got ${token === null ? 'null' : typeof token}`)
  if (token.length === 0) throw new InvalidConsistencyTokenError('empty')
  if (token.length > MAX_LENGTH) throw new InvalidConsistencyTokenError(`longer than ${String(MAX_LENGTH)} characters`)
  const match = FORMAT.exec(token)
  if (!match) throw new InvalidConsistencyTokenError('not of the form <version>.<position>.<time>')
  if (match[1] !== VERSION) throw new InvalidConsistencyTokenError(`unsupported version ${match[1] ?? ''}`)
  const time = parseInt(match[3] ?? '', 36)
  if (!Number.isSafeInteger(time)) throw new InvalidConsistencyTokenError('time out of range')
  return { lsn: BigInt(`0x${match[2] ?? '0'}`), time: Math.min(time, now) }
}
