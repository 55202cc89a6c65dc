/**
 * A replica's health:
 * - `up`: in rotation.
 * - `down`: out of rotation: a read or a health check failed at the connection level (or timed out).
 * - `lagging`: out of rotation: its measured lag is over `maxLag`.
 * - `waking`: out of rotation for a moment: the routed client was idle (the health check paused after
 *   `health.idleAfterMs`) and the replica has not answered since. A server that suspends when idle (Neon) is
 *   being woken by the router's check, which waits up to `health.wakeTimeoutMs` for it (then `down`); reads go to
 *   the other replicas or the primary meanwhile and never wait for it. `up` (or `lagging`) once it answers.
 */
export type ReplicaHealth = 'up' | 'down' | 'lagging' | 'waking'

/** Replication lag of a replica, as last measured by the health check. */
export interface ReplicaLag {
  /** How long the replica has been behind the position it has replayed (docs/health-and-failover.md). */
  readonly ms: number
  /** WAL bytes between the primary's position and the replica's replay position (transactions on MariaDB/MySQL). */
  readonly bytes: number
  /**
   * What the replica itself reports, in whole seconds, where it may be asked (MariaDB / MySQL:
   * `Seconds_Behind_Master`, which needs the REPLICATION CLIENT or SLAVE MONITOR privilege; `null` while its
   * applier is stopped). Informational: `maxLag` uses `ms` and `bytes`. Absent on PostgreSQL.
   */
  readonly serverSeconds?: number | null
}

/** A change of a replica's health, passed to `onHealthChange`. Names only, never a connection string. */
export interface HealthEvent {
  /** The replica's name. */
  readonly replica: string
  /** The new state. */
  readonly state: ReplicaHealth
  /** The state before. */
  readonly previous: ReplicaHealth
  /**
   * Why: a connection-level cause (`ECONNREFUSED`, `DatabaseNotReachable`, `57P01`, `timeout`, …) for `down`;
   * `lag-ms` or `lag-bytes` for `lagging`; `idle` for `waking` (from the first query after the health check
   * paused until the replica answers); `recovered`, `caught-up` or `awake` for `up`.
   */
  readonly cause: string
  /** The lag measured with this change, when known. */
  readonly lag?: ReplicaLag
}

/** One replica in `$replicaStatus()`. */
export interface ReplicaStatus {
  /** The replica's configured name. */
  readonly name: string
  /** Its health now: `up`, `down`, `lagging` or `waking`. */
  readonly state: ReplicaHealth
  /**
   * Cause of the last state change (see {@link HealthEvent.cause}), or `lag-unmeasurable` while the server
   * reports no replay position (its lag cannot be measured: e.g. Aurora); `undefined` before any.
   */
  readonly cause: string | undefined
  /** Last measured lag; `undefined` until the first health check that could measure it. */
  readonly lag: ReplicaLag | undefined
  /** Last replay position seen (`pg_last_wal_replay_lsn()`), e.g. `0/3000148`. */
  readonly replayLsn: string | undefined
  /**
   * True when more than one server answers through this entry (configured `pooled: true`, or detected): reads
   * that must see a scope's writes, or be monotonic, do not use it.
   */
  readonly pooled: boolean
  /** Queries of this router in flight on the replica now. */
  readonly inFlight: number
  /** Reads the replica has served successfully. */
  readonly reads: number
  /** Connection-level failures: of reads, and of health checks that took the replica out of rotation. */
  readonly failures: number
  /**
   * Reads and read-only transactions the replica cancelled for a conflict with recovery (SQLSTATE 40001: WAL
   * replay had to remove row versions they could see). Each read was served elsewhere; the replica stayed in
   * rotation. Frequent ones: set `hot_standby_feedback = on` on the replica, or raise `max_standby_streaming_delay`.
   */
  readonly recoveryConflicts: number
}
