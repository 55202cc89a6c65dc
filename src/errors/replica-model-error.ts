import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/**
 * A replica's client has no such model operation: it was generated from another schema than the client it
 * serves reads for. Replica clients must be built from the same generated client.
 */
export class ReplicaModelError extends ReplicaRouterError {
  /** `ReplicaModelError`: what the cross-realm type guard checks. */
  override name = 'ReplicaModelError'
  /** Name of the replica. */
  readonly replica: string
  /** Model name, e.g. `User`. */
  readonly model: string
  /** Operation, e.g. `findMany`. */
  readonly operation: string

  constructor(replica: string, model: string, operation: string) {
    super(`Replica \`${replica}\` has no \`${model}.${operation}\`: build replica clients from the same generated client as the primary's`)
    this.replica = replica
    this.model = model
    this.operation = operation
  }
}

/** True for a {@link ReplicaModelError}, across realms and package copies. */
export function isReplicaModelError(error: unknown): error is ReplicaModelError {
  return error instanceof ReplicaModelError || isRouterErrorNamed(error, 'ReplicaModelError')
}
