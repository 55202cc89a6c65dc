import { ReadTimeoutError } from './connection-error.js'

interface Pending {
  readonly deadline: number
  readonly reject: (error: Error) => void
}

/**
 * Read timeouts without a timer per read: reads in flight are kept with their deadline, and one `unref`'d
 * sweeper, running only while reads are in flight, rejects the overdue ones (within a quarter of the timeout,
 * at most 250 ms, late). A late result of an abandoned read is dropped.
 */
export class ReadDeadlines {
  private readonly pending = new Set<Pending>()
  private sweeper: NodeJS.Timeout | undefined
  private readonly sweepMs: number

  constructor(private readonly timeoutMs: number) {
    this.sweepMs = Math.max(1, Math.min(250, Math.floor(timeoutMs / 4)))
  }

  /** `promise`, or a ReadTimeoutError once it has run longer than the timeout. */
  run<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + this.timeoutMs, reject }
      this.pending.add(entry)
      this.sweeper ??= setInterval(() => {
        this.sweep()
      }, this.sweepMs).unref()
      promise.then(
        (value) => {
          this.settle(entry)
          resolve(value)
        },
        (error: unknown) => {
          this.settle(entry)
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the read's own error, unchanged
          reject(error)
        },
      )
    })
  }

  private settle(entry: Pending): void {
    this.pending.delete(entry)
    if (this.pending.size === 0 && this.sweeper) {
      clearInterval(this.sweeper)
      this.sweeper = undefined
    }
  }

  private sweep(): void {
    const now = performance.now()
    for (const entry of this.pending) {
      if (entry.deadline <= now) {
        this.settle(entry)
        entry.reject(new ReadTimeoutError(`read timed out after ${String(this.timeoutMs)} ms`))
      }
    }
  }
}
