/**
 * Consistency's knowledge of what replicas have replayed, at the moment a read needs it: a replica's replay
 * position learned before a read that requires one ({@link ReplayChecks.reach}), and a read that relied on what
 * was known of a replica confirmed after it ended ({@link ReplayChecks.confirmed}). The positions themselves are
 * kept in the replica set (src/replica-set.ts: observeReplay); the scopes' requirements in src/router.ts.
 */
import { covers, type Position } from './position.js'
import type { ReadDeadlines } from './read-deadlines.js'
import { singleServer, type ReplicaSet, type ReplicaState } from './replica-set.js'
import { tick } from './scope.js'

/** Longest pause between two checks of a replica that a read waits for (ms). */
const MAX_POLL_MS = 8

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms)
  })

/** After a wait for a replica ran out, reads do not wait for it again for this long (ms). */
export const WAIT_BACKOFF_MS = 1000

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
   * Whether `replica` has replayed `required`, so that a read there sees the scope's writes: known already (no
   * round trip), else asked. The first answer comes from the check in flight, if one is (shared by every reader
   * of the replica), else from a new one; an answer that falls short from a check that started before this call
   * is followed by one that started after it (a check older than the read proves little). While the answer
   * still falls short and `deadline` (a `performance.now()` time; `-Infinity`: no waiting) has not passed, the
   * replica is asked again after a pause (1, 2, 4, then every {@link MAX_POLL_MS} ms), one check at a time
   * shared by all its waiters, each answering every waiter whose position it covers. A replica is not waited
   * for when its measured lag exceeds the time left, nor for {@link WAIT_BACKOFF_MS} after a wait for it ran
   * out (it is further behind than reads may wait: one check, then the primary). False on a connection failure
   * (the replica also leaves rotation) or a query error: the read goes elsewhere.
   */
  async reach(replica: ReplicaState, required: Position, deadline: number): Promise<boolean> {
    if (known(replica, required)) return true
    const calledAt = tick()
    const start = performance.now()
    const wait = deadline > start && start - replica.waitMissedAt >= WAIT_BACKOFF_MS
    let since: number | undefined
    let polls = 0
    for (;;) {
      try {
        await this.timed(since === undefined ? replica.checks.next() : replica.checks.after(since))
      } catch (error) {
        this.set.failedBy(replica, error)
        return false
      }
      if (known(replica, required)) {
        if (wait) replica.waitMissedAt = -Infinity
        return true
      }
      // The next answer must come from a newer check: one started after the latest answer's, shared by all.
      since = replica.checks.latestStartedAt
      if (since < calledAt) continue // that check started before this read asked: one fresh check first
      const now = performance.now()
      const left = deadline - now
      if (!wait || replica.state !== 'up' || !singleServer(replica) || (replica.lag !== undefined && replica.lag.ms > left)) return false
      if (left <= 0) {
        replica.waitMissedAt = now
        return false
      }
      this.waits += 1
      await pause(Math.min(2 ** polls++, MAX_POLL_MS, left))
    }
  }

  /** Checks sent again because a replica had not reached a waiting read's position yet. */
  waits = 0

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
    return replica.incarnation === incarnation && singleServer(replica)
  }
}

/** The replica is known to have replayed `required`. */
function known(replica: ReplicaState, required: Position): boolean {
  return replica.replay !== undefined && covers(replica.replay, required)
}
