/** A router query that did not answer in time (cause `timeout`). */
export class ProbeTimeout extends Error {
  override name = 'ProbeTimeout'
  readonly code = 'timeout'
}

/**
 * Resolves with `promise`, or rejects with a ProbeTimeout after `ms`. The timer never keeps the process alive.
 * When it fires, I/O that arrived meanwhile is read first (`setImmediate` runs after the poll phase): an answer
 * that came in while the event loop was busy elsewhere is not taken for a timeout.
 */
export async function within<T>(promise: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      setImmediate(() => {
        reject(new ProbeTimeout())
      }).unref()
    }, ms)
    timer.unref()
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
