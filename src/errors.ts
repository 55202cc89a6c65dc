import { describeValue } from './describe-value.js'
import { isReplicaName } from './replica-name.js'

/**
 * Base class of every runtime error thrown by prisma-replica-router.
 * Messages name replicas by their configured name only: never a connection string or a password.
 */
export class ReplicaRouterError extends Error {
  override name = 'ReplicaRouterError'
}

/** A model write (create, update, delete, upsert, …) was sent through `$replica()`. Thrown before any network I/O. */
export class ReplicaWriteError extends ReplicaRouterError {
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

/** `$replica()` was called on a transaction client: a transaction runs on the primary only. */
export class ReplicaInTransactionError extends ReplicaRouterError {
  override name = 'ReplicaInTransactionError'

  constructor() {
    super('Cannot use $replica inside of a transaction: a transaction always runs on the primary.')
  }
}

/** `$replica(name)` named a replica that is not configured. */
export class UnknownReplicaError extends ReplicaRouterError {
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

/** A custom routing policy returned something other than one of the candidates it was given. */
export class RoutingPolicyError extends ReplicaRouterError {
  override name = 'RoutingPolicyError'
  /** Name of the policy. */
  readonly policy: string

  constructor(policy: string, message: string) {
    super(`Routing policy \`${policy}\` ${message}`)
    this.policy = policy
  }
}

/**
 * No replica could serve a read and `fallback` is `'error'`: every replica is down or lagging, or the ones
 * tried failed at the connection level.
 */
export class NoReplicaAvailableError extends ReplicaRouterError {
  override name = 'NoReplicaAvailableError'
  /** Model of the read, or `undefined` for `$replica()`. */
  readonly model: string | undefined
  /** Operation of the read. */
  readonly operation: string
  /** Every replica and its state at the time. */
  readonly replicas: readonly { readonly name: string; readonly state: string }[]

  constructor(model: string | undefined, operation: string, replicas: readonly { readonly name: string; readonly state: string }[], options?: { cause?: unknown }) {
    super(
      `No replica available for \`${model === undefined ? operation : `${model}.${operation}`}\`: ` +
        `${replicas.map((r) => `${r.name} ${r.state}`).join(', ')} (fallback: 'error')`,
      options,
    )
    this.model = model
    this.operation = operation
    this.replicas = replicas
  }
}

/**
 * An option passed to `readReplicas()` is invalid. Thrown at construction, never later.
 * A `TypeError`, like every argument error in JavaScript.
 */
export class InvalidOptionError extends TypeError {
  override name = 'InvalidOptionError'
  /** Path of the offending option, e.g. `replicas[1].weight`. */
  readonly option: string

  constructor(option: string, message: string) {
    super(message)
    this.option = option
  }
}

const hasName = (error: unknown, name: string): boolean => typeof error === 'object' && error !== null && (error as { name?: unknown }).name === name

/** True for every runtime error of this library (not for {@link InvalidOptionError}, a `TypeError`). */
export function isReplicaRouterError(error: unknown): error is ReplicaRouterError {
  return error instanceof ReplicaRouterError
}

/** True for a {@link ReplicaWriteError}. */
export function isReplicaWriteError(error: unknown): error is ReplicaWriteError {
  return error instanceof ReplicaWriteError || hasName(error, 'ReplicaWriteError')
}

/** True for a {@link ReplicaInTransactionError}. */
export function isReplicaInTransactionError(error: unknown): error is ReplicaInTransactionError {
  return error instanceof ReplicaInTransactionError || hasName(error, 'ReplicaInTransactionError')
}

/** True for an {@link UnknownReplicaError}. */
export function isUnknownReplicaError(error: unknown): error is UnknownReplicaError {
  return error instanceof UnknownReplicaError || hasName(error, 'UnknownReplicaError')
}

/** True for a {@link NoReplicaAvailableError}. */
export function isNoReplicaAvailableError(error: unknown): error is NoReplicaAvailableError {
  return error instanceof NoReplicaAvailableError || hasName(error, 'NoReplicaAvailableError')
}

/** True for an {@link InvalidOptionError}. */
export function isInvalidOptionError(error: unknown): error is InvalidOptionError {
  return error instanceof InvalidOptionError || hasName(error, 'InvalidOptionError')
}
