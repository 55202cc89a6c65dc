import { isOn } from './dialects/mysql-family.js'
import { NotPrimaryError } from './errors/index.js'
import { loadMariadb, mariadbSettings } from './own-mariadb-connection.js'

/** Minimal structural view of a node-postgres Client, so that `pg` stays an optional peer dependency. */
interface PgClient {
  connect(): Promise<unknown>
  query(sql: string): Promise<{ rows: { standby?: unknown }[] }>
  end(): Promise<unknown>
  on(event: 'error', listener: () => void): unknown
}

/**
 * MariaDB / MySQL: a replica is read-only (`@@read_only`, `@@super_read_only` on MySQL) or has its replication
 * running (`Slave_running`, MariaDB; both readable without privileges). The URL is Prisma's (`mysql://`) or the
 * driver's (`mariadb://`).
 */
async function assertMysqlPrimary(url: string, source: string): Promise<void> {
  const connection = await (await loadMariadb()).createConnection(mariadbSettings(url))
  const first = async (sql: string) => ((await connection.query(sql)) as Record<string, unknown>[])[0]
  try {
    const row = await first('SELECT @@GLOBAL.read_only AS ro, VERSION() AS v')
    if (isOn(row?.ro)) throw new NotPrimaryError(source, '@@read_only = 1')
    if (String(row?.v).includes('MariaDB')) {
      const status = await first("SHOW GLOBAL STATUS LIKE 'Slave_running'")
      if (isOn(status?.Value)) throw new NotPrimaryError(source, 'Slave_running = ON')
    } else {
      const extra = await first('SELECT @@GLOBAL.super_read_only AS sro')
      if (isOn(extra?.sro)) throw new NotPrimaryError(source, '@@super_read_only = 1')
    }
  } finally {
    await connection.end().catch(() => undefined)
  }
}

/**
 * Connects to `url` and throws {@link NotPrimaryError} when that server is a hot standby (PostgreSQL) or a
 * replica (MariaDB, MySQL: `mysql://` or `mariadb://`). Run it before `prisma migrate deploy`, so that migrations
 * can only ever reach the primary. `source` names the URL in the message (never the URL itself, which may carry
 * a password).
 */
export async function assertPrimary(url: string, source = 'the migration URL'): Promise<void> {
  if (/^(mysql|mariadb):\/\//i.test(url)) {
    await assertMysqlPrimary(url, source)
    return
  }
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
