import { NotPrimaryError } from './errors/index.js'

/** Minimal structural view of a node-postgres Client, so that `pg` stays an optional peer dependency. */
interface PgClient {
  connect(): Promise<unknown>
  query(sql: string): Promise<{ rows: { standby?: unknown }[] }>
  end(): Promise<unknown>
  on(event: 'error', listener: () => void): unknown
}

/** The part of the `mariadb` driver used here. */
interface MariadbDriver {
  createConnection(config: string | object): Promise<{ query(sql: string): Promise<Record<string, unknown>[]>; end(): Promise<void> }>
}

const isOn = (value: unknown) => value === 1 || value === 1n || value === '1' || value === 'ON'

/**
 * MariaDB / MySQL: a replica is read-only (`@@read_only`, `@@super_read_only` on MySQL) or has its replication
 * running (`Slave_running`, MariaDB; both readable without privileges). The URL is Prisma's (`mysql://`) or the
 * driver's (`mariadb://`).
 */
async function assertMysqlPrimary(url: string, source: string): Promise<void> {
  const mariadb = (await import('mariadb')) as unknown as MariadbDriver & { default?: MariadbDriver }
  const driver = mariadb.default ?? mariadb
  const connection = await driver.createConnection({ ...connectionOf(url), connectTimeout: 10_000 })
  try {
    const [row] = await connection.query('SELECT @@GLOBAL.read_only AS ro, VERSION() AS v')
    if (isOn(row?.ro)) throw new NotPrimaryError(source, '@@read_only = 1')
    if (String(row?.v).includes('MariaDB')) {
      const [status] = await connection.query("SHOW GLOBAL STATUS LIKE 'Slave_running'")
      if (isOn(status?.Value)) throw new NotPrimaryError(source, 'Slave_running = ON')
    } else {
      const [extra] = await connection.query('SELECT @@GLOBAL.super_read_only AS sro')
      if (isOn(extra?.sro)) throw new NotPrimaryError(source, '@@super_read_only = 1')
    }
  } finally {
    await connection.end().catch(() => undefined)
  }
}

/** `mysql://user:password@host:port/db` -> the driver's settings (the driver's own URL parser wants `mariadb://`). */
function connectionOf(url: string): Record<string, unknown> {
  const parsed = new URL(url)
  return {
    host: parsed.hostname,
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)) || undefined,
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
