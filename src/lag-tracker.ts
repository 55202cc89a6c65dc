import { covers, distance, type Position } from './position.js'

const MAX_SAMPLES = 10_000

/**
 * Measures replication lag in time the way the issue asks: how long a replica has been behind the position it
 * has replayed, i.e. since the primary was first SEEN past that position. Samples of the primary's WAL position
 * are recorded on every health check; a replica that replayed everything the primary had at the last sample has
 * no lag, however idle the primary (unlike `now() - pg_last_xact_replay_timestamp()`, which grows while the
 * primary is idle). Resolution: the health-check interval (the value is a lower bound by at most one interval).
 */
export class LagTracker {
  private readonly samples: { at: number; lsn: Position }[] = []

  /**
   * Records the primary's position `lsn` observed at `at` (ms, monotonic clock). `afterGap`: the first sample
   * after a time without samples (the health check paused while idle): the primary may have passed every
   * position up to `lsn` right after the previous sample, so the sample counts from then (lag is never
   * under-estimated because of the pause).
   */
  record(lsn: Position, at: number, afterGap = false): void {
    const last = this.samples.at(-1)
    if (last && covers(last.lsn, lsn)) return // nothing new: the first time we saw this position stays the reference
    this.samples.push({ at: afterGap && last ? last.at : at, lsn })
    if (this.samples.length > MAX_SAMPLES) this.samples.shift()
  }

  /** The latest primary position recorded, if any. */
  get latest(): Position | undefined {
    return this.samples.at(-1)?.lsn
  }

  /**
   * Bytes of WAL the replica has not replayed yet (transactions, for GTID positions), against the latest sample
   * (never negative).
   */
  lagBytes(replay: Position): number {
    const latest = this.latest
    return latest === undefined ? 0 : Number(distance(replay, latest))
  }

  /** Milliseconds since the primary was first seen past `replay`; 0 when the replica has replayed all samples. */
  lagMs(replay: Position, now: number): number {
    for (const sample of this.samples) {
      if (!covers(replay, sample.lsn)) return Math.max(0, now - sample.at)
    }
    return 0
  }

  /** Forgets samples no replica needs any more: all but the last one every replica (at `replays`) has applied. */
  prune(replays: readonly Position[]): void {
    for (;;) {
      const next = this.samples[1]
      if (next === undefined || !replays.every((replay) => covers(replay, next.lsn))) return
      this.samples.shift()
    }
  }
}
