import { describeValue } from '../describe-value.js'
import { isReplicaName } from '../replica-name.js'
import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/** `$replica(name)` named a replica that is not configured. */
export class UnknownReplicaError extends ReplicaRouterError {
  /** `UnknownReplicaError`: what the cross-realm type guard checks. */
  override name = 'UnknownReplicaError'
  /**
   * The name that was asked for; `undefined` when it cannot be a replica name (e.g. a connection string passed
   * by mistake: never kept or shown, it may hold a password).
   */
  readonly replica: string | undefined
  /** The configured replica names. */
  readonly known: readonly string[]

  constructor(replica: unknown, known: readonly string[]) {
    const asked = isReplicaName(replica) ? `\`${replica}\`` : `(${describeValue(replica)})`
    super(`Unknown replica ${asked}; configured replicas: ${known.map((n) => `\`${n}\``).join(', ')}`)
    this.replica = isReplicaName(replica) ? replica : undefined
    this.known = known
  }
}

/** True for an {@link UnknownReplicaError}, across realms and package copies. */
export function isUnknownReplicaError(error: unknown): error is UnknownReplicaError {
  return error instanceof UnknownReplicaError || isRouterErrorNamed(error, 'UnknownReplicaError')
}
