import { NotPrimaryError } from './errors/index.js'

/** Minimal structural view of a node-postgres Client, so that `pg` stays an optional peer dependency. */
interface PgClient {
  connect(): Promise<unknown>
  query(sql: string): Promise<{ rows: { standby?: unknown }[] }>
  end(): Promise<unknown>
  on(event: 'error', listener: () => void): unknown
}

/**
 * Connects to `url` and throws {@link NotPrimaryError} when that server is a hot standby. Run it before
 * `prisma migrate deploy`, so that migrations can only ever reach the primary. `source` names the URL in the
 * message (never the URL itself, which may carry a password).
 */
export async function assertPrimary(url: string, source = 'the migration URL'): Promise<void> {
  const pg = (await import('pg')) as unknown as { default: { Client: new (config: object) => PgClient } }
  const client = new pg.default.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    const { rows } = await client.query('SELECT pg_is_in_recovery() AS standby')
    if (rows[0]?.standby === true) throw new NotPrimaryError(source)
  } finally {
    await client.end().catch(() => undefined)
  }
}
