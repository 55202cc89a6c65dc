import { TimeoutError } from './errors/index.js'

/**
 * Resolves with `promise`, or rejects with a TimeoutError after `ms` (`what` names it in the message). The timer never keeps the process alive.
 * When it fires, I/O that arrived meanwhile is read first (`setImmediate` runs after the poll phase): an answer
 * that came in while the event loop was busy elsewhere is not taken for a timeout.
 */
export async function within<T>(promise: PromiseLike<T>, ms: number, what = 'a query of the router'): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      setImmediate(() => {
        reject(new TimeoutError(what, ms))
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
