/**
 * What the router asks of a database engine, and nothing more: the replication positions of a primary and of a
 * replica, and whether a failed position query means the engine cannot report positions at all. Everything else
 * (consistency, the replica set, policies, tokens, lag tracking, failover, events) is shared by every engine.
 * One file per engine beside this one.
 */
import type { Position } from '../position.js'
import type { Row, ServerLink } from '../server-link.js'

/** A replica's applied position and the server that reported it. */
export interface ReplayObservation {
  /** The position the replica has applied; `undefined`: the server is not a replica (promoted, or a primary). */
  readonly lsn: Position | undefined
  /**
   * How far it has received the primary's changes (`undefined` if unknown): a lower bound of the primary's
   * position, which measures lag when the router does not ask the primary itself (see HealthMonitor).
   */
  readonly received?: Position | undefined
  /**
   * Which server answered (`address:port@start time` on PostgreSQL): different for each server behind one entry,
   * and for each start of a server.
   */
  readonly server: string | undefined
  /**
   * `false` when the server says it is not a replica at all (PostgreSQL: `pg_is_in_recovery()` is false: promoted,
   * or a primary); `undefined` where the engine cannot say for sure.
   */
  readonly replicating?: boolean
  /** The lag the replica reports itself, in whole seconds (`null`: unknown now), where the engine has one. */
  readonly serverSeconds?: number | null
  /**
   * The server process that answered (`pg_backend_pid()`), where the engine reports one. On a direct
   * connection it never changes, and a new connection never gets the one before: a pooler in between does
   * either (a transaction pooler changes it on one connection; a session pooler hands a new connection the
   * previous one's).
   */
  readonly session?: number
}

export interface Dialect {
  /** The engine family: `mysql` covers MariaDB and MySQL (as Prisma's provider name does). */
  readonly name: 'postgresql' | 'mysql'
  /**
   * The primary's position, covering every write that has returned to its client before the query started;
   * `undefined` when the server reported none.
   */
  primaryPosition(link: ServerLink, foreground: boolean): Promise<Position | undefined>
  /**
   * The same as {@link replicaPosition}, run by `query` and holding its transaction a moment (~20 ms), so that
   * concurrent ones through a pooler take several of its server connections. Where the engine has it.
   */
  heldReplicaPosition?(query: (sql: string) => Promise<readonly Row[]>): Promise<ReplayObservation>
  /** A replica's applied position and the server that answered. */
  replicaPosition(link: ServerLink, foreground: boolean): Promise<ReplayObservation>
  /**
   * True when a failed position query means the server cannot report positions at all (the function does not
   * exist, is not supported, or may not be called): read-your-writes then falls back to the sticky window.
   */
  positionUnavailable(error: unknown): boolean
  /** A position as the engine prints it (`16/B374D848`, `0-1-1836`), for status and errors. */
  format(position: Position): string
  /**
   * Where the engine has recovery conflicts (a hot standby cancelling queries for WAL replay: PostgreSQL): a
   * query of the number of queries the server cancelled so, in the current database, as a column `n` (text).
   * It also takes a transaction's snapshot, as any statement does.
   */
  readonly recoveryConflictsSql?: string
  /**
   * A query of which server answers, as a column `server` in the form {@link ReplayObservation.server} has: how a
   * replica entry that is not a replica is told from the primary itself.
   */
  readonly serverIdentitySql?: string
  /**
   * Where the engine shows its sessions' queries: a query of how many statements of other sessions of the same
   * user have been running for at least `ms`, as a column `n`. A read the router waits for that no such statement
   * can be is not running there any more (its connection is gone without a word: half-open).
   */
  runningSql?(ms: number): string
}
