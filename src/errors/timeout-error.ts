import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/**
 * Something the router waited for did not answer in time: a read on a replica past `readTimeoutMs` whose server
 * did not answer a probe either (the read is then retried elsewhere, and is the `cause` of a
 * `NoReplicaAvailableError` when nothing else can serve it), or one of the router's own queries (a health
 * check, the primary's WAL position) past `health.timeoutMs`. `code` is `'timeout'`.
 */
export class TimeoutError extends ReplicaRouterError {
  /** `TimeoutError`: what the cross-realm type guard checks. */
  override name = 'TimeoutError'
  /** `'timeout'`. */
  readonly code = 'timeout'
  /** How long was waited (ms). */
  readonly timeoutMs: number

  constructor(what: string, timeoutMs: number) {
    super(`${what} timed out after ${String(timeoutMs)} ms`)
    this.timeoutMs = timeoutMs
  }
}

/** True for a {@link TimeoutError} of this library, across realms and package copies. */
export function isTimeoutError(error: unknown): error is TimeoutError {
  return error instanceof TimeoutError || (isRouterErrorNamed(error, 'TimeoutError') && (error as { code?: unknown }).code === 'timeout')
}
