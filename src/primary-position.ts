import { tick } from './scope.js'
import type { Position } from './position.js'

interface Fetch<T> {
  readonly startedAt: number
  readonly promise: Promise<T>
}

/**
 * A value read by a query that started after a given moment (a {@link tick}), with as few round trips as
 * possible. One query runs at a time; a caller that needs a newer one than the query in flight waits for the
 * single query queued behind it, shared with every caller arriving meanwhile (group commit, for position
 * queries). Values observed elsewhere (the health check) count too.
 */
export class FreshQuery<T> {
  private latest: { startedAt: number; value: T } | undefined
  private inflight: Fetch<T> | undefined
  private queued: Promise<T> | undefined
  /** Queries sent. */
  queries = 0
  /** When the last query was sent (ms, monotonic clock). */
  private sentAt = -Infinity

  /** `query(startedAt)`: runs the query; `startedAt` is the tick it started at. */
  constructor(private readonly query: (startedAt: number) => Promise<T>) {}

  /** Whether a query was sent in the last `ms` milliseconds. */
  askedWithin(ms: number): boolean {
    return performance.now() - this.sentAt < ms
  }

  /** Records a value read by a query that started at tick `startedAt` (e.g. by the health check). */
  observe(startedAt: number, value: T): void {
    if (!this.latest || startedAt > this.latest.startedAt) this.latest = { startedAt, value }
  }

  /** A value read by a query started after tick `since` (see `tick()`): reused or fetched. */
  async after(since: number): Promise<T> {
    if (this.latest && this.latest.startedAt > since) return this.latest.value
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

  /** The tick at which the query behind the latest value started (`-Infinity`: none yet). */
  get latestStartedAt(): number {
    return this.latest?.startedAt ?? -Infinity
  }

  /** The value of the query in flight, else of a new one: the freshest answer without queueing. */
  async next(): Promise<T> {
    return await (this.inflight ?? this.start()).promise
  }

  private start(): Fetch<T> {
    const startedAt = tick()
    this.queries += 1
    this.sentAt = performance.now()
    const promise = this.query(startedAt).then((value) => {
      this.observe(startedAt, value)
      return value
    })
    const entry = { startedAt, promise }
    this.inflight = entry
    void promise.then(
      () => {
        this.settled(entry)
      },
      () => {
        this.settled(entry)
      },
    )
    return entry
  }

  private settled(entry: Fetch<T>): void {
    if (this.inflight === entry) this.inflight = undefined
  }
}

/**
 * The primary's WAL position "at or after" a moment: read-your-writes asks it once per write (shared by
 * concurrent writers), and the health check's samples count too.
 */
export class PrimaryPosition extends FreshQuery<Position> {}
