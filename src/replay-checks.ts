/**
 * Consistency's knowledge of what replicas have replayed, at the moment a read needs it: a replica's replay
 * position learned before a read that requires one ({@link ReplayChecks.check}), and a read that relied on what
 * was known of a replica confirmed after it ended ({@link ReplayChecks.confirmed}). The positions themselves are
 * kept in the replica set (src/replica-set.ts: observeReplay); the scopes' requirements in src/router.ts.
 */
import type { ReadDeadlines } from './read-deadlines.js'
import type { ReplicaSet, ReplicaState } from './replica-set.js'
import { tick } from './scope.js'

/** A replica's replay position checked less than this long ago is not checked again (ms). */
const RECHECK_MS = 5

export class ReplayChecks {
  /** @param deadlines bounds each check like a read (`readTimeoutMs`); `undefined`: unbounded. */
  constructor(
    private readonly set: ReplicaSet,
    private readonly deadlines: ReadDeadlines | undefined,
  ) {}

  private timed<T>(promise: Promise<T>): Promise<T> {
    return this.deadlines ? this.deadlines.run(promise) : promise
  }

  /**
   * Learns a replica's replay position: one round trip, shared by concurrent readers, and not repeated within
   * {@link RECHECK_MS} of the last one (a lagging replica is not asked on every read). False if it failed (a
   * connection failure also takes the replica out of rotation).
   */
  async check(replica: ReplicaState): Promise<boolean> {
    if (performance.now() - replica.positionCheckedAt < RECHECK_MS) return true
    replica.positionCheckedAt = performance.now()
    try {
      await this.timed(replica.checks.after(tick()))
      return true
    } catch (error) {
      this.set.failedBy(replica, error)
      return false
    }
  }

  /**
   * Confirms a read that relied on what was known of `replica` (its position, or that it is the scope's home):
   * a check that started after the read ended (`endedAt`) saw the same incarnation, so the server that answered
   * had not gone back in time (restarted, reinitialised) since that knowledge was gathered. One round trip,
   * shared by every read of the replica that ended before it started.
   */
  async confirmed(replica: ReplicaState, incarnation: number, endedAt: number): Promise<boolean> {
    try {
      await this.timed(replica.checks.after(endedAt))
    } catch (error) {
      this.set.failedBy(replica, error)
      return false
    }
    return replica.incarnation === incarnation && !replica.pooled
  }
}
