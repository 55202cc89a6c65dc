import { TimeoutError } from './errors/index.js'

/**
 * A read in flight and what to do once it is overdue. Linked into the list of reads in flight.
 */
export interface ReadTicket {
  /**
   * When the sweep period the read started in was closed (`NaN` until then): the read started before it.
   * @internal
   */
  closedAt: number
  onTimeout(error: TimeoutError): void
  /** @internal */ previous: ReadTicket | undefined
  /** @internal */ next: ReadTicket | undefined
  /** @internal */ linked: boolean
}

/**
 * Read timeouts without a timer, nor even a clock reading, per read: reads in flight are kept in a list that adds
 * and removes without allocating (in start order), and one `unref`'d sweeper, every eighth of the timeout (at most
 * 125 ms, at least 1 ms), reads the clock once, stamps the reads started since its previous sweep with that time
 * (each read started before its stamp), and rejects the reads whose stamp is at least the timeout old. So a read
 * is never given up early, and at most two sweep periods late (a quarter of the timeout, at most 250 ms; 2 ms for
 * timeouts under 8 ms), plus whatever delays the event loop. Memory is one ticket per read in flight. The sweeper
 * starts with the first read and stops at the first sweep that finds no read in flight, so a steady stream of reads
 * never creates or clears a timer per read. A late result of an abandoned read is dropped.
 *
 * (A clock reading per read was measured to cost a replica read about 1 µs: code touched between network waits.)
 */
export class ReadDeadlines {
  private head: ReadTicket | undefined
  private tail: ReadTicket | undefined
  /** The first read not stamped yet: it and every read after it started in the current sweep period. */
  private unstamped: ReadTicket | undefined
  private sweeper: NodeJS.Timeout | undefined
  private readonly sweepMs: number

  constructor(private readonly timeoutMs: number) {
    this.sweepMs = Math.max(1, Math.min(125, Math.floor(timeoutMs / 8)))
  }

  /** `promise`, or a TimeoutError once it has run longer than the timeout. */
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
  track(onTimeout: (error: TimeoutError) => void): ReadTicket {
    const ticket: ReadTicket = { closedAt: Number.NaN, onTimeout, previous: this.tail, next: undefined, linked: true }
    if (this.tail) this.tail.next = ticket
    else this.head = ticket
    this.tail = ticket
    this.unstamped ??= ticket
    this.sweeper ??= setInterval(() => {
      this.sweep()
    }, this.sweepMs).unref()
    return ticket
  }

  /** The read has settled: its clock stops. Releasing twice is harmless. */
  release(ticket: ReadTicket): void {
    if (!ticket.linked) return
    ticket.linked = false
    if (ticket === this.unstamped) this.unstamped = ticket.next
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
      clearInterval(this.sweeper)
      this.sweeper = undefined
      return
    }
    const now = performance.now()
    for (let ticket = this.unstamped; ticket !== undefined; ticket = ticket.next) ticket.closedAt = now
    this.unstamped = undefined
    // Tickets are in start order, so in stamp order: the overdue ones are at the head (a read started by an
    // `onTimeout` below is unstamped, NaN: never overdue now).
    for (let ticket: ReadTicket | undefined = head; ticket !== undefined; ticket = this.head) {
      if (!(now - ticket.closedAt >= this.timeoutMs)) break
      this.release(ticket)
      ticket.onTimeout(new TimeoutError('a read on a replica', this.timeoutMs))
    }
  }
}
