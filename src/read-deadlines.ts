import { ReadTimeoutError } from './connection-error.js'

/** A read in flight: its deadline and what to do when it passes. Linked into the list of reads in flight. */
export interface ReadTicket {
  readonly deadline: number
  readonly onTimeout: (error: ReadTimeoutError) => void
  /** @internal */ previous: ReadTicket | undefined
  /** @internal */ next: ReadTicket | undefined
  /** @internal */ linked: boolean
}

/**
 * Read timeouts without a timer per read: reads in flight are kept, with their deadline, in a list that adds and
 * removes without allocating (in start order, so deadlines are in order too), and one `unref`'d sweeper rejects
 * the overdue ones (within a quarter of the timeout, at most 250 ms, late). The sweeper starts with the first
 * read and stops at the first sweep that finds no read in flight, so a steady stream of reads never creates or
 * clears a timer per read. A late result of an abandoned read is dropped.
 */
export class ReadDeadlines {
  private head: ReadTicket | undefined
  private tail: ReadTicket | undefined
  private sweeper: NodeJS.Timeout | undefined
  private readonly sweepMs: number

  constructor(private readonly timeoutMs: number) {
    this.sweepMs = Math.max(1, Math.min(250, Math.floor(timeoutMs / 4)))
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
    const ticket: ReadTicket = {
      deadline: performance.now() + this.timeoutMs,
      onTimeout,
      previous: this.tail,
      next: undefined,
      linked: true,
    }
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
    if (!this.head && this.sweeper) {
      clearInterval(this.sweeper)
      this.sweeper = undefined
      return
    }
    const now = performance.now()
    // Tickets are in start order, and every read has the same timeout: the overdue ones are at the head.
    while (this.head && this.head.deadline <= now) {
      const ticket = this.head
      this.release(ticket)
      ticket.onTimeout(new ReadTimeoutError(`read timed out after ${String(this.timeoutMs)} ms`))
    }
  }
}
