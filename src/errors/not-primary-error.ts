import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/** The database a migration would run against is a hot standby (a replica): migrating it must not happen. */
export class NotPrimaryError extends ReplicaRouterError {
  override name = 'NotPrimaryError'

  constructor(source: string) {
    super(
      `Refusing to migrate: the server behind ${source} is a hot standby (pg_is_in_recovery() = true), i.e. a read ` +
        'replica. Point it at the primary; replicas receive the schema through replication.',
    )
  }
}

/** True for a {@link NotPrimaryError}, across realms and package copies. */
export function isNotPrimaryError(error: unknown): error is NotPrimaryError {
  return error instanceof NotPrimaryError || isRouterErrorNamed(error, 'NotPrimaryError')
}
