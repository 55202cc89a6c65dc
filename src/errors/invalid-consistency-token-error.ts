import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/** A consistency token that cannot be used: malformed, of another version, too long, or out of range. */
export class InvalidConsistencyTokenError extends ReplicaRouterError {
  /** `InvalidConsistencyTokenError`: what the cross-realm type guard checks. */
  override name = 'InvalidConsistencyTokenError'
  /** Why it was rejected (never the token itself, which is untrusted input). */
  readonly reason: string

  constructor(reason: string) {
    super(`Invalid consistency token: ${reason}`)
    this.reason = reason
  }
}

/** True for an {@link InvalidConsistencyTokenError}, across realms and package copies. */
export function isInvalidConsistencyTokenError(error: unknown): error is InvalidConsistencyTokenError {
  return error instanceof InvalidConsistencyTokenError || isRouterErrorNamed(error, 'InvalidConsistencyTokenError')
}
