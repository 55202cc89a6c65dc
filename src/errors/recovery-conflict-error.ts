import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/**
 * A read-only transaction on a replica (`$replica().$transaction(fn)`) was cancelled by the replica itself: WAL
 * replay had to remove row versions the transaction's snapshot could still see (SQLSTATE 40001, "conflict with
 * recovery"). The transaction did nothing wrong and nothing was written: run it again (`retryable` is `true`).
 * The router never runs the callback a second time by itself. To make it rarer: `hot_standby_feedback = on` on
 * the replica (the primary then keeps those rows), or a larger `max_standby_streaming_delay` (replay waits for
 * the query that long). A plain read cancelled that way is not surfaced: it is retried on another replica or the
 * primary, and counted (`$routerStats().recoveryConflicts`).
 *
 * `code` is `'recovery-conflict'`; `cause` is the driver's error.
 * @example
 * try {
 *   await prisma.$replica().$transaction(async (tx) => report(tx))
 * } catch (error) {
 *   if (isRecoveryConflictError(error)) await prisma.$replica().$transaction(async (tx) => report(tx)) // once more
 *   else throw error
 * }
 */
export class RecoveryConflictError extends ReplicaRouterError {
  /** `RecoveryConflictError`: what the cross-realm type guard checks. */
  override name = 'RecoveryConflictError'
  /** `'recovery-conflict'`. */
  readonly code = 'recovery-conflict'
  /** Always `true`: the same transaction, run again, may well succeed. */
  readonly retryable = true
  /** The replica that cancelled the transaction (its configured name). */
  readonly replica: string

  constructor(replica: string, options?: { cause?: unknown }) {
    super(
      `replica \`${replica}\` cancelled the read-only transaction: a conflict with recovery (WAL replay had to remove row versions its snapshot could still see; SQLSTATE 40001). Nothing was written; run the transaction again. To make this rarer, set hot_standby_feedback = on on the replica, or raise its max_standby_streaming_delay.`,
      options,
    )
    this.replica = replica
  }
}

/** True for a {@link RecoveryConflictError} of this library, across realms and package copies. */
export function isRecoveryConflictError(error: unknown): error is RecoveryConflictError {
  return error instanceof RecoveryConflictError || (isRouterErrorNamed(error, 'RecoveryConflictError') && (error as { code?: unknown }).code === 'recovery-conflict')
}
