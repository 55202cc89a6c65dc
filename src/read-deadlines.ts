import { ReadTimeoutError } from './connection-error.js'

/**
 * A read in flight: the sweep period it started in and what to do once it is overdue. Linked into the list of
 * reads in flight.
 */
export interface ReadTicket {
  /** @internal The sweep period the read started in (see {@link ReadDeadlines}). */ readonly epoch: number
  readonly onTimeout: (error: ReadTimeoutError) => void
  /** @internal */ previous: ReadTicket | undefined
  /** @internal */ next: ReadTicket | undefined
  /** @internal */ linked: boolean
}

/**
 * Read timeouts without a timer, nor even a clock reading, per read: reads in flight are kept in a list that adds
 * and removes without allocating (in start order), each with the number of the sweep period it started in, and
 * one `unref`'d sweeper, every eighth of the timeout (at most 125 ms), reads the clock once, closes the current
 * period and rejects the overdue reads. A read of period `e` started before period `e` was closed, so once the
 * timeout has passed since that closing, the read has run longer than the timeout: never early, and late by at most
 * two sweep periods (a quarter of the timeout, at most 250 ms). The sweeper starts with the first read and stops at
 * the first sweep that finds no read in flight, so a steady stream of reads never creates or clears a timer per
 * read. A late result of an abandoned read is dropped.
 *
 * (A clock reading per read was measured to cost a replica read about 1 µs: code touched between network waits.)
 */
export class ReadDeadlines {
  private head: ReadTicket | undefined
  private tail: ReadTicket | undefined
  private sweeper: NodeJS.Timeout | undefined
  private readonly sweepMs: number
  /** The current sweep period: the number of sweeps so far. */
  private epoch = 0
  /** When each period that a read in flight started in was closed: `closedAt[e - firstEpoch]`. */
  private closedAt: number[] = []
  private firstEpoch = 0

  constructor(private readonly timeoutMs: number) {
    this.sweepMs = Math.max(1, Math.min(125, Math.floor(timeoutMs / 8)))
  }

  /** `promise`, or a ReadTimeoutError once it has run longer than the timeout. */
  run<T>(promise: PromiseLike<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const ticket = this.track(reject)
      promise.then(
        (value) => {
          this.release(ticket)
          resolve(value)
        },
        (error: unknown) => {
          this.release(ticket)
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the read's own error, unchanged
          reject(error)
        },
      )
    })
  }

  /** Starts the clock for one read: `onTimeout` is called once it has run longer than the timeout, unless released. */
  track(onTimeout: (error: ReadTimeoutError) => void): ReadTicket {
    const ticket: ReadTicket = { epoch: this.epoch, onTimeout, previous: this.tail, next: undefined, linked: true }
    if (this.tail) this.tail.next = ticket
    else this.head = ticket
    this.tail = ticket
    this.sweeper ??= setInterval(() => {
      this.sweep()
    }, this.sweepMs).unref()
    return ticket
  }

  /** The read has settled: its clock stops. Releasing twice is harmless. */
  release(ticket: ReadTicket): void {
    if (!ticket.linked) return
    ticket.linked = false
    if (ticket.previous) ticket.previous.next = ticket.next
    else this.head = ticket.next
    if (ticket.next) ticket.next.previous = ticket.previous
    else this.tail = ticket.previous
    ticket.previous = undefined
    ticket.next = undefined
  }

  /** Reads in flight (walks the list; for tests). */
  get size(): number {
    let count = 0
    for (let t = this.head; t; t = t.next) count++
    return count
  }

  /** True while the sweeper timer exists. */
  get sweeping(): boolean {
    return this.sweeper !== undefined
  }

  private sweep(): void {
    const head = this.head
    if (head === undefined) {
      this.stop()
      return
    }
    const now = performance.now()
    this.closedAt.push(now)
    this.epoch++
    // Tickets are in start order, so in period order: the overdue ones are at the head.
    for (let ticket: ReadTicket | undefined = head; ticket !== undefined; ticket = this.head) {
      const closedAt = this.closedAt[ticket.epoch - this.firstEpoch]
      if (closedAt === undefined || now - closedAt < this.timeoutMs) break
      this.release(ticket)
      ticket.onTimeout(new ReadTimeoutError(`read timed out after ${String(this.timeoutMs)} ms`))
    }
    // Forget the periods that no read in flight started in.
    const oldest = this.head?.epoch ?? this.epoch
    if (oldest > this.firstEpoch) {
      this.closedAt.splice(0, oldest - this.firstEpoch)
      this.firstEpoch = oldest
    }
  }

  /** No read in flight: no timer until the next one. */
  private stop(): void {
    clearInterval(this.sweeper)
    this.sweeper = undefined
    this.closedAt = []
    this.firstEpoch = ++this.epoch
  }
}
