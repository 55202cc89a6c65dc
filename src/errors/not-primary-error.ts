import { ReplicaRouterError, isRouterErrorNamed } from './replica-router-error.js'

/** The database a migration would run against is a hot standby (a replica): migrating it must not happen. */
export class NotPrimaryError extends ReplicaRouterError {
  /** `NotPrimaryError`: what the cross-realm type guard checks. */
  override name = 'NotPrimaryError'

  /** @param evidence what showed it: `pg_is_in_recovery() = true` (PostgreSQL), `@@read_only = 1` (MariaDB, MySQL)… */
  constructor(source: string, evidence = 'pg_is_in_recovery() = true') {
    super(
      `Refusing to migrate: the server behind ${source} is a hot standby (${evidence}), i.e. a read ` +
        'replica. Point it at the primary; replicas receive the schema through replication.',
    )
  }
}

/** True for a {@link NotPrimaryError}, across realms and package copies. */
export function isNotPrimaryError(error: unknown): error is NotPrimaryError {
  return error instanceof NotPrimaryError || isRouterErrorNamed(error, 'NotPrimaryError')
}
