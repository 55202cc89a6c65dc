/**
 * A replication position, whatever the database: how far a primary has written, or a replica has applied.
 * PostgreSQL's is a WAL byte position (a `bigint`: totally ordered, compared in place, as before dialects
 * existed); MariaDB's a GTID position and MySQL's a GTID set (src/dialects/), partially ordered: one covers
 * another, two may each lack something of the other, and any two have a join that covers both. The router, the
 * replica set, tokens and lag tracking use only the functions here.
 */
import type { MariadbGtidPosition } from './dialects/mariadb-gtid.js'
import type { MysqlGtidSet } from './dialects/mysql-gtid.js'

export type GtidPosition = MariadbGtidPosition | MysqlGtidSet
export type Position = bigint | GtidPosition

/** True when a server at `a` has applied everything up to `b` (`a >= b` for WAL positions). */
export function covers(a: Position, b: Position): boolean {
  if (typeof a === 'bigint') return typeof b === 'bigint' && a >= b
  if (typeof b === 'bigint') return false
  if (a.kind === 'mariadb') return b.kind === 'mariadb' && a.covers(b)
  return b.kind === 'mysql' && a.covers(b)
}

/**
 * The smallest position that covers both (the larger WAL position). Positions of two kinds never meet in one
 * router; if they did, `b` wins (the later information).
 */
export function join(a: Position, b: Position): Position {
  if (typeof a === 'bigint') return typeof b === 'bigint' && b < a ? a : b
  if (typeof b === 'bigint') return b
  if (a.kind === 'mariadb') return b.kind === 'mariadb' ? a.join(b) : b
  return b.kind === 'mysql' ? a.join(b) : b
}

/**
 * How far `behind` is from `ahead`: bytes of WAL, or transactions for GTIDs; 0 when it covers it. (`maxLag.bytes`
 * counts transactions on MariaDB and MySQL.)
 */
export function distance(behind: Position, ahead: Position): bigint {
  if (typeof behind === 'bigint') return typeof ahead === 'bigint' && ahead > behind ? ahead - behind : 0n
  if (typeof ahead === 'bigint') return 0n
  if (behind.kind === 'mariadb') return ahead.kind === 'mariadb' ? behind.behind(ahead) : 0n
  return ahead.kind === 'mysql' ? behind.behind(ahead) : 0n
}
