interface Fetch {
  readonly startedAt: number
  readonly promise: Promise<bigint>
}

import { tick } from './scope.js'

/**
 * The primary's WAL position "at or after" a moment, with as few round trips as possible. One query runs at a
 * time; a caller that needs a newer one than the query in flight waits for the single query queued behind it,
 * shared with every caller arriving meanwhile (group commit, for position queries). The health check's samples
 * count too.
 */
export class PrimaryPosition {
  private latest: { startedAt: number; lsn: bigint } | undefined
  private inflight: Fetch | undefined
  private queued: Promise<bigint> | undefined
  /** Position queries sent (the extra round trips of LSN mode). */
  queries = 0

  constructor(private readonly query: () => Promise<bigint>) {}

  /** Records a position read by a query that started at tick `startedAt` (e.g. by the health check). */
  observe(startedAt: number, lsn: bigint): void {
    if (!this.latest || startedAt > this.latest.startedAt) this.latest = { startedAt, lsn }
  }

  /** A position read by a query started after tick `since` (see `tick()`): reused or fetched. */
  async after(since: number): Promise<bigint> {
    if (this.latest && this.latest.startedAt > since) return this.latest.lsn
    const running = this.inflight
    if (!running) return await this.start().promise
    if (running.startedAt > since) return await running.promise
    // The query in flight started too early for this caller: share the one queued behind it.
    this.queued ??= running.promise
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined
        return this.start().promise
      })
    return await this.queued
  }

  private start(): Fetch {
    const startedAt = tick()
    this.queries += 1
    const promise = this.query().then((lsn) => {
      this.observe(startedAt, lsn)
      return lsn
    })
    const entry = { startedAt, promise }
    this.inflight = entry
    void promise.then(
      () => { this.settled(entry); },
      () => { this.settled(entry); },
    )
    return entry
  }

  private settled(entry: Fetch): void {
    if (this.inflight === entry) this.inflight = undefined
  }
}
