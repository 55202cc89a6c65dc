import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/** `$replica()` was called on a transaction client: a transaction runs on the primary only. */
export class ReplicaInTransactionError extends ReplicaRouterError {
  /** `ReplicaInTransactionError`: what the cross-realm type guard checks. */
  override name = 'ReplicaInTransactionError'

  constructor() {
    super('Cannot use $replica inside of a transaction: a transaction always runs on the primary.')
  }
}

/** True for a {@link ReplicaInTransactionError}, across realms and package copies. */
export function isReplicaInTransactionError(error: unknown): error is ReplicaInTransactionError {
  return error instanceof ReplicaInTransactionError || isRouterErrorNamed(error, 'ReplicaInTransactionError')
}
