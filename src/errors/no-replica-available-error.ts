import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/**
 * No replica could serve a read: with `fallback: 'error'`, every replica is down or lagging, or the ones tried
 * failed at the connection level; or `$replica()` without a name found none in rotation.
 */
export class NoReplicaAvailableError extends ReplicaRouterError {
  /** `NoReplicaAvailableError`: what the cross-realm type guard checks. */
  override name = 'NoReplicaAvailableError'
  /** Model of the read, or `undefined` for `$replica()`. */
  readonly model: string | undefined
  /** Operation of the read (`$replica` for `$replica()`). */
  readonly operation: string
  /** Every replica and its state at the time. */
  readonly replicas: readonly {
    /** The replica's name. */
    readonly name: string
    /** Its health when the read gave up (`down`, `lagging`, `waking`, …). */
    readonly state: string
  }[]

  constructor(model: string | undefined, operation: string, replicas: readonly { readonly name: string; readonly state: string }[], options?: { cause?: unknown }) {
    // `fallback: 'error'` is named only where it decided: a routed read (never `$replica()`, which has no fallback).
    const why = model === undefined ? '' : " (fallback: 'error')"
    super(`No replica available for \`${model === undefined ? operation : `${model}.${operation}`}\`: ${replicas.map((r) => `${r.name} ${r.state}`).join(', ')}${why}`, options)
    this.model = model
    this.operation = operation
    this.replicas = replicas
  }
}

/** True for a {@link NoReplicaAvailableError}, across realms and package copies. */
export function isNoReplicaAvailableError(error: unknown): error is NoReplicaAvailableError {
  return error instanceof NoReplicaAvailableError || isRouterErrorNamed(error, 'NoReplicaAvailableError')
}
