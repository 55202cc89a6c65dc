/** Marks this library's errors, across realms and copies of the package (a global symbol, shared by every realm). */
const BRAND = Symbol.for('prisma-replica-router.error')

/**
 * Base class of every runtime error thrown by prisma-replica-router.
 * Messages name replicas by their configured name only: never a connection string or a password.
 */
export class ReplicaRouterError extends Error {
  /** `ReplicaRouterError`: what the cross-realm type guard checks. */
  override name = 'ReplicaRouterError'
}
Object.defineProperty(ReplicaRouterError.prototype, BRAND, { value: true })

/** True for an error of this library's, or another copy's or realm's (not for `InvalidOptionError`, a `TypeError`). */
export function isReplicaRouterError(error: unknown): error is ReplicaRouterError {
  return error instanceof ReplicaRouterError || (typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true)
}

/** True for an error named `name` (as ky's guards do: whichever copy of the package or realm made it). */
export function isRouterErrorNamed(error: unknown, name: string): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === name
}
