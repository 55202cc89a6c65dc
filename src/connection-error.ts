/**
 * Tells connection-level failures (the server is gone, refused, restarting, unreachable, timed out) from errors
 * of the query itself (constraint, syntax, not found, 25006 …). Only the former are safe and useful to retry
 * elsewhere: the read never ran to completion on a working server.
 *
 * What the server says of its own error comes first: PostgreSQL sends every error with a severity, and only a
 * `FATAL` (or `PANIC`) one ends the session. An `ERROR` is the statement's, whatever its SQLSTATE: a protocol
 * violation (08P01: a bind message with more parameters than the protocol carries, a NUL in the text) from a
 * healthy server is the query's own error, surfaced once as a plain client reports it, never retried elsewhere.
 */
import { LinkClosedError } from './server-link.js'
import { TimeoutError } from './errors/index.js'

/** A read given up because its replica went down under it (see ReadInFlight.onAbandon): done elsewhere. */
export class AbandonedReadError extends Error {
  /** `AbandonedReadError`, the class name. */
  override name = 'AbandonedReadError'
  readonly code: string

  constructor(replica: string, cause: string) {
    super(`replica \`${replica}\` went down (${cause}) while the read ran on it`)
    this.code = cause
  }
}

/**
 * A read given up because its connection no longer carries it: past `readTimeoutMs`, its server answered the
 * router's probe but ran no statement as old as the read (the connection is half-open: the server's side gone
 * without a word). Done elsewhere; the replica stays in rotation.
 */
export class LostReadError extends Error {
  /** `LostReadError`, the class name. */
  override name = 'LostReadError'
  readonly code = 'read-lost'

  constructor(replica: string) {
    super(`a read on replica \`${replica}\` was lost with its connection (the server answers, but runs nothing that old)`)
  }
}

/** Driver-adapter error kinds (from @prisma/driver-adapter-utils) that mean "this server cannot serve". */
const ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TlsConnectionError',
  'TooManyConnections',
  'AuthenticationFailed',
  'DatabaseAccessDenied',
])

/** Prisma error codes: P1001 can't reach, P1002 timed out, P1008 operation timed out, P1017 server closed. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017'])

/** SQLSTATE: class 08 connection exception, 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 53300 too many connections. */
const SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/

/**
 * MariaDB and MySQL error numbers of a connection that failed or is gone (server side: 1040 too many
 * connections, 1053 shutdown in progress, 1152/1158-1161 network errors, 1927 connection killed; client side:
 * 2002/2003 cannot connect, 2006 server gone away, 2013 lost connection; the `mariadb` driver: 45001-45012
 * connection and socket errors, 45028 no pool connection in time).
 */
const MYSQL_ERRNOS = new Set([1040, 1053, 1152, 1158, 1159, 1160, 1161, 1927, 2002, 2003, 2006, 2013, 45001, 45002, 45003, 45006, 45007, 45008, 45009, 45010, 45011, 45012, 45028])

const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])

const MESSAGES: readonly [RegExp, string][] = [
  // node-postgres, before it sends a password the server asked for: the settings have none (or not a string).
  [/client password must be a (non-empty )?string/i, 'AuthenticationFailed'],
  [/Connection terminated unexpectedly/i, 'connection-terminated'],
  [/Connection terminated due to connection timeout/i, 'connect-timeout'],
  [/timeout exceeded when trying to connect/i, 'connect-timeout'],
  [/server closed the connection unexpectedly/i, 'connection-terminated'],
  // node-postgres, for a query on a client whose connection already failed (an error event it had no query for).
  [/Client has encountered a connection error and is not queryable/i, 'connection-terminated'],
]

const field = (value: unknown, key: string): unknown => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined)

/** Severities with which PostgreSQL ends the session (the connection is gone after the error). */
const SESSION_ENDING = new Set(['FATAL', 'PANIC'])

/**
 * The severity PostgreSQL sent with an error (`ERROR`, `FATAL`, `PANIC`): on the driver adapter's error
 * (`@prisma/adapter-pg` keeps it) or on node-postgres' own (the router's connections); `undefined` when the
 * server sent none (the failure is the driver's: a socket closed, a timeout).
 */
function severityOf(error: unknown, adapter: unknown): string | undefined {
  const severity = field(adapter, 'severity') ?? field(error, 'severity')
  return typeof severity === 'string' ? severity.toUpperCase() : undefined
}

/** Connection failures that say the server refused the credentials (the settings are wrong, not the server). */
const AUTHENTICATION = new Set(['AuthenticationFailed', '28P01', '28000'])

/** True when `cause` (a {@link connectionErrorCause}) says the server refused the credentials. */
export function isAuthenticationFailure(cause: string | undefined): boolean {
  return cause !== undefined && AUTHENTICATION.has(cause)
}

/** The SQLSTATE a driver-adapter or Prisma error carries, if any (`42883`, `57014`, …). */
export function sqlstateOf(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 4) return undefined
  const adapter = field(field(field(error, 'meta'), 'driverAdapterError'), 'cause') ?? field(error, 'cause')
  const code = field(adapter, 'originalCode') ?? field(adapter, 'code') ?? field(error, 'code')
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
  const nested = field(error, 'cause')
  return nested === undefined || nested === error ? undefined : sqlstateOf(nested, depth + 1)
}

/**
 * The cause of a connection-level failure, as a short code safe to log (`57P01`, `DatabaseNotReachable`,
 * `ECONNREFUSED`, `timeout`, …), or `undefined` when the error came from the query itself.
 */
export function connectionErrorCause(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 4) return undefined
  if (error instanceof TimeoutError || error instanceof LinkClosedError || error instanceof AbandonedReadError) return error.code
  const adapter = field(field(field(error, 'meta'), 'driverAdapterError'), 'cause') ?? field(error, 'cause')
  const sqlstate = field(adapter, 'originalCode') ?? field(adapter, 'code')
  const severity = severityOf(error, adapter)
  if (severity !== undefined) {
    // The server answered: the session goes on after an ERROR (the statement's own), ends after a FATAL.
    if (!SESSION_ENDING.has(severity)) return undefined
    const code = typeof sqlstate === 'string' ? sqlstate : field(error, 'code')
    return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : severity
  }
  if (typeof sqlstate === 'string' && SQLSTATE.test(sqlstate)) return sqlstate
  const kind = field(adapter, 'kind')
  if (typeof kind === 'string' && ADAPTER_KINDS.has(kind)) return kind
  // MariaDB / MySQL: the adapter's `mysql` errors, and the `mariadb` driver's own (the router's connections).
  const state = field(adapter, 'state') ?? field(error, 'sqlState')
  if (typeof state === 'string' && SQLSTATE.test(state)) return state
  const errno = kind === 'mysql' ? field(adapter, 'code') : field(error, 'errno')
  if (typeof errno === 'number' && MYSQL_ERRNOS.has(errno)) return `errno ${String(errno)}`
  const code = field(error, 'code')
  if (typeof code === 'string') {
    if (SQLSTATE.test(code) || NODE_CODES.has(code)) return code
    if (PRISMA_CODES.has(code)) return code
  }
  const message = field(error, 'message')
  if (typeof message === 'string') {
    for (const [pattern, cause] of MESSAGES) if (pattern.test(message)) return cause
  }
  const nested = field(error, 'cause')
  return nested === undefined || nested === error ? undefined : connectionErrorCause(nested, depth + 1)
}

/** What the server says of a recovery conflict: `canceling statement …` (ERROR) or `terminating connection …` (FATAL). */
const RECOVERY_CONFLICT = /due to conflict with recovery/i

/**
 * The server's messages an error carries: as the driver adapter kept them (`originalMessage`), or a driver's own
 * error (node-postgres: it has the server's `severity`), through `cause`.
 */
function serverMessagesOf(error: unknown, depth = 0): string[] {
  if (typeof error !== 'object' || error === null || depth > 4) return []
  const adapter = field(field(field(error, 'meta'), 'driverAdapterError'), 'cause')
  const driver = typeof field(error, 'severity') === 'string' ? field(error, 'message') : undefined
  const own = [driver, field(error, 'originalMessage'), field(adapter, 'originalMessage')].filter((m): m is string => typeof m === 'string')
  const nested = field(error, 'cause')
  return nested === undefined || nested === error ? own : [...own, ...serverMessagesOf(nested, depth + 1)]
}

/**
 * True when a hot standby cancelled the query (or ended the session) because WAL replay had to remove row versions
 * its snapshot could see, or to take a lock it held (SQLSTATE 40001, or 40P01 for a deadlock with replay, with the
 * server's "… due to conflict with recovery"). A replica's condition, not the query's fault: another server
 * serves the same read. Prisma reports it as P2034 (a write conflict): the SQLSTATE the driver adapter kept must be
 * one of the two, and the server's own message (never the error's text, which may show the query's arguments)
 * must say so.
 */
export function isRecoveryConflict(error: unknown): boolean {
  const state = sqlstateOf(error)
  if (state !== '40001' && state !== '40P01') return false
  return serverMessagesOf(error).some((message) => RECOVERY_CONFLICT.test(message))
}
