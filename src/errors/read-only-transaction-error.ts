import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/**
 * A write inside a read-only transaction (`prisma.$replica().$transaction(fn)`): a model write such as `create`,
 * `$executeRaw`, or a raw query that is not provably a plain read. Thrown before any network I/O; the
 * transaction then rolls back.
 */
export class ReadOnlyTransactionError extends ReplicaRouterError {
  /** `ReadOnlyTransactionError`: what the cross-realm type guard checks. */
  override name = 'ReadOnlyTransactionError'
  /** Model property, e.g. `user`; `undefined` for a raw query. */
  readonly model: string | undefined
  /** Operation, e.g. `create` or `$executeRaw`. */
  readonly operation: string

  constructor(model: string | undefined, operation: string, why?: string) {
    super(
      `Cannot run \`${model === undefined ? operation : `${model}.${operation}`}\` in a read-only transaction ($replica().$transaction)` +
        (why === undefined ? '' : ` (not provably a plain read: ${why})`) +
        ': it reads one snapshot and writes nothing. Write through the client itself or `$primary()`.',
    )
    this.model = model
    this.operation = operation
  }
}

/** True for a {@link ReadOnlyTransactionError}, across realms and package copies. */
export function isReadOnlyTransactionError(error: unknown): error is ReadOnlyTransactionError {
  return error instanceof ReadOnlyTransactionError || isRouterErrorNamed(error, 'ReadOnlyTransactionError')
}
