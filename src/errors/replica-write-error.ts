import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/** A model write (create, update, delete, upsert, …) was sent through `$replica()`. Thrown before any network I/O. */
export class ReplicaWriteError extends ReplicaRouterError {
  /** `ReplicaWriteError`: what the cross-realm type guard checks. */
  override name = 'ReplicaWriteError'
  /** Model name, e.g. `User`. */
  readonly model: string
  /** Operation, e.g. `create`. */
  readonly operation: string
  /** Name of the replica the write was refused on. */
  readonly replica: string

  constructor(model: string, operation: string, replica: string) {
    super(`Cannot run \`${model}.${operation}\` on replica \`${replica}\`: replicas are read-only. Send writes through the client itself or \`$primary()\`.`)
    this.model = model
    this.operation = operation
    this.replica = replica
  }
}

/** True for a {@link ReplicaWriteError}, across realms and package copies. */
export function isReplicaWriteError(error: unknown): error is ReplicaWriteError {
  return error instanceof ReplicaWriteError || isRouterErrorNamed(error, 'ReplicaWriteError')
}
