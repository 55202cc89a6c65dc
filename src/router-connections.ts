import { connectionErrorCause, isAuthenticationFailure } from './connection-error.js'
import { loadNeonDriver } from './neon-driver.js'
import { loadPg, OwnConnection, type PgDriver } from './own-connection.js'
import { OwnMariadbConnection } from './own-mariadb-connection.js'
import { adapterNameOf, neonSettingsOf, pgSettingsOf, usesMariadbAdapter } from './prisma/internals.js'
import { ClientLink, type RawQueryable, type Row, type ServerLink } from './server-link.js'

/** The warning code emitted when the router's queries must go through an application's client. */
export const SHARED_CONNECTIONS_WARNING = 'PRISMA_REPLICA_ROUTER_SHARED_CONNECTIONS'

/** The warning code emitted when a server refuses the credentials of the router's own connection to it. */
export const AUTHENTICATION_WARNING = 'PRISMA_REPLICA_ROUTER_AUTHENTICATION_FAILED'

/**
 * One process warning per server whose authentication refused the router's own connection: never silent, since
 * the router's checks of that server then fail while the application's own queries may still succeed. Names the
 * server and the cause (a SQLSTATE or `AuthenticationFailed`), never a connection string or a password.
 */
function warnAuthentication(server: string, cause: string): void {
  process.emitWarning(
    `prisma-replica-router: ${server} refused the credentials of the router's own connection (${cause}), so the router cannot ` +
      `check its health or replay position: ${server === 'the primary' ? "reads that must see a scope's writes go to the primary" : 'it leaves rotation'}. ` +
      "The router connects with the settings of the driver adapter that server's PrismaClient was built with: check its user and password (docs/health-and-failover.md, 'The router's own connections').",
    { code: AUTHENTICATION_WARNING },
  )
}

let warned = false

/** One process warning, the first time a server cannot get the router's own connection. */
function warnShared(
  server: string,
  why: string,
  remedy = "Build the client with `new PrismaPg(...)` from @prisma/adapter-pg and install `pg` to avoid it (docs/health-and-failover.md, 'The router's own connections').",
): void {
  if (warned) return
  warned = true
  process.emitWarning(
    `prisma-replica-router: ${why}, so the router's health checks and position queries to ${server} go ` +
      "through that server's PrismaClient: they appear in its query log, extensions and traces, and wait for its " +
      `pool. ${remedy}`,
    { code: SHARED_CONNECTIONS_WARNING },
  )
}

/** The driver (node-postgres, or Neon's) could not be loaded: the router falls back to the application's client. */
class PgUnavailableError extends Error {
  /** `PgUnavailableError`, the class name. */
  override name = 'PgUnavailableError'
}

/** A driver of the router's own connections, loaded once per process: its loader, what it needs, how to avoid the fallback. */
interface DriverLoader {
  readonly load: () => Promise<PgDriver>
  /** The modules it loads, for the warning (`the \`pg\` module`). */
  readonly modules: string
  readonly remedy: string
}

function once(load: () => Promise<PgDriver>, modules: string): () => Promise<PgDriver> {
  let loaded: Promise<PgDriver> | undefined
  return () =>
    (loaded ??= load().catch((error: unknown) => {
      throw new PgUnavailableError(`${modules} cannot be loaded`, { cause: error })
    }))
}

const PG: DriverLoader = {
  load: once(loadPg, 'the `pg` module'),
  modules: 'the `pg` module',
  remedy: "Build the client with `new PrismaPg(...)` from @prisma/adapter-pg and install `pg` to avoid it (docs/health-and-failover.md, 'The router's own connections').",
}

const NEON: DriverLoader = {
  load: once(loadNeonDriver, 'the `@neondatabase/serverless` and `ws` modules'),
  modules: 'the `@neondatabase/serverless` and `ws` modules',
  remedy: "Install `@neondatabase/serverless` and `ws` (the router's own connections use them) to avoid it (docs/health-and-failover.md, 'The router's own connections').",
}

/**
 * The router's own connection, falling back to the application's client (with one warning) if node-postgres
 * cannot be loaded.
 */
class OwnOrClientLink implements ServerLink {
  private fallback: ClientLink | undefined

  constructor(
    private readonly connection: OwnConnection,
    private readonly client: RawQueryable,
    private readonly server: string,
    private readonly driver: DriverLoader,
  ) {}

  get own(): boolean {
    return this.fallback === undefined
  }

  get open(): boolean {
    return this.fallback ? true : this.connection.open
  }

  /** Whether the authentication warning was emitted for this server (once). */
  private authenticationWarned = false

  async query(sql: string, foreground: boolean): Promise<readonly Row[]> {
    if (this.fallback) return await this.fallback.query(sql)
    try {
      return await this.connection.query(sql, foreground)
    } catch (error) {
      if (!(error instanceof PgUnavailableError)) {
        const cause = connectionErrorCause(error)
        if (!this.authenticationWarned && cause !== undefined && isAuthenticationFailure(cause)) {
          this.authenticationWarned = true
          warnAuthentication(this.server, cause)
        }
        throw error
      }
      warnShared(this.server, `${this.driver.modules} cannot be loaded`, this.driver.remedy)
      this.fallback = new ClientLink(this.client)
      void this.connection.close()
      return await this.fallback.query(sql)
    }
  }

  async queryApart(sql: string, timeoutMs: number): Promise<readonly Row[]> {
    // Through the application's client (the fallback), its pool spreads concurrent queries itself.
    if (this.fallback) return await this.fallback.query(sql)
    return await this.connection.queryApart(sql, timeoutMs)
  }

  reconnect(): void {
    this.connection.reconnect()
  }

  reset(): void {
    this.connection.reset()
  }

  release(): void {
    this.connection.release()
  }

  async close(): Promise<void> {
    await Promise.all([this.connection.close(), this.fallback?.close()])
  }
}

/**
 * How the router's own queries reach the server behind `client`: its own connection, with the settings of the
 * driver adapter `client` was built with, closed after `idleMs` without a query; else (another adapter) through
 * `client` itself, with one process warning. `server` names the server in that warning (`the primary`,
 * `replica \`a\``).
 */
export function linkTo(client: RawQueryable, server: string, idleMs: number, connection?: string): ServerLink {
  if (usesMariadbAdapter(client)) {
    if (connection !== undefined) return new OwnMariadbConnection(connection, idleMs)
    warnShared(
      server,
      `@prisma/adapter-mariadb keeps ${server}'s connection settings private and no \`${server === 'the primary' ? 'primaryConnection' : 'connection'}\` URL was given`,
      'Give the URL the adapter was built with as `primaryConnection` (the primary) and `connection` (each replica) to avoid it (docs/mariadb.md).',
    )
    return new ClientLink(client)
  }
  const neon = neonSettingsOf(client)
  const settings = neon ?? pgSettingsOf(client)
  if (!settings) {
    warnShared(
      server,
      adapterNameOf(client) === '@prisma/adapter-neon'
        ? `${server}'s PrismaClient was built with PrismaNeonHttp (queries over HTTP, without a session)`
        : `${server}'s PrismaClient was not built with @prisma/adapter-pg or @prisma/adapter-neon`,
    )
    return new ClientLink(client)
  }
  if (settings.stream !== undefined || settings.Client !== undefined) {
    // A socket factory (Cloud SQL connector, SSH tunnel) or a client class of its own: the router cannot tell
    // where those connect, so it does not guess.
    warnShared(server, `${server}'s pool connects through its own \`stream\` or \`Client\``)
    return new ClientLink(client)
  }
  const driver = neon ? NEON : PG
  driver.load().catch(() => undefined) // loaded ahead, not within the first health check's timeout
  return new OwnOrClientLink(new OwnConnection(settings, idleMs, driver.load), client, server, driver)
}
