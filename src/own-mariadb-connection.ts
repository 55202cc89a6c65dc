/**
 * The router's own connection to a MariaDB or MySQL server (health checks, GTID positions): one `mariadb` driver
 * connection, opened on first use, closed after `idleMs` without a query. Its socket never keeps the process
 * alive; a timer does while a foreground query (one an application query waits for) runs. Its queries never pass
 * through the application's PrismaClient: no query log, extension or trace of the application sees them, and
 * they never wait for the application's pool. The PostgreSQL counterpart is src/own-connection.ts.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { connectionErrorCause } from './connection-error.js'
import { ReplicaRouterError } from './errors/index.js'
import type { Row, ServerLink } from './server-link.js'

/** The part of a `mariadb` driver connection used here. */
interface MariadbConnection {
  query(sql: string): Promise<unknown>
  end(): Promise<void>
  destroy(): void
  on(event: 'error', listener: () => void): unknown
}

/** The part of the `mariadb` driver used here. */
export interface MariadbDriver {
  createConnection(config: Record<string, unknown>): Promise<MariadbConnection>
}

/** The `mariadb` driver, as the application has it (`@prisma/adapter-mariadb` depends on it). */
export async function loadMariadb(): Promise<MariadbDriver> {
  const module = (await import('mariadb')) as unknown as MariadbDriver & { default?: MariadbDriver }
  const driver = module.default ?? module
  if (typeof driver.createConnection !== 'function') throw new ReplicaRouterError('the `mariadb` module has no `createConnection`')
  return driver
}

/** How long `close()` lets a server acknowledge the goodbye before the socket is destroyed (ms). */
const CLOSE_GRACE_MS = 200

/**
 * `mysql://user:password@host:port/db?…` (or `mariadb://`) -> the `mariadb` driver's connection settings (its
 * own URL parser wants `mariadb://`). Also used by `check-primary`.
 */
export function mariadbSettings(url: string): { host: string; port: number } & Record<string, unknown> {
  const parsed = new URL(url)
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : undefined,
    connectTimeout: 10_000,
    // Positions and flags as plain values; the application's own settings do not matter for these queries.
    bigIntAsNumber: true,
    allowPublicKeyRetrieval: parsed.searchParams.get('allowPublicKeyRetrieval') === 'true',
  }
}

export class OwnMariadbConnection implements ServerLink {
  readonly own = true
  private connection: Promise<MariadbConnection> | undefined
  private running = 0
  private foreground = 0
  private keepAlive: NodeJS.Timeout | undefined
  private idleTimer: NodeJS.Timeout | undefined
  /** Connections asked to end once their queries have answered (`reconnect()`). */
  private readonly retiring = new Set<Promise<MariadbConnection>>()
  /** The socket of each connection (made here): what ends it at once. */
  private readonly sockets = new WeakMap<MariadbConnection, Socket>()

  /**
   * @param url the server's connection URL; its password never reaches an error, log or event of the router.
   * @param idleMs the connection closes after this long without a query.
   */
  constructor(
    private readonly url: string,
    private readonly idleMs: number,
    private readonly load: () => Promise<MariadbDriver> = loadMariadb,
  ) {}

  get open(): boolean {
    return this.connection !== undefined
  }

  async query(sql: string, foreground: boolean): Promise<readonly Row[]> {
    clearTimeout(this.idleTimer)
    if (foreground && this.foreground++ === 0) this.keepAlive = setInterval(() => undefined, 60_000)
    const connection = (this.connection ??= this.connect())
    this.running++
    try {
      let opened: MariadbConnection
      try {
        opened = await connection
      } catch (error) {
        if (this.connection === connection) this.connection = undefined // the next query tries again
        throw error
      }
      const rows = await opened.query(sql)
      return Array.isArray(rows) ? (rows as Row[]) : []
    } catch (error) {
      // A failure of the connection (not of the query): the next query opens a new one.
      if (connectionErrorCause(error) !== undefined && this.connection === connection) this.drop(true)
      throw error
    } finally {
      this.running--
      if (foreground && --this.foreground === 0) clearInterval(this.keepAlive)
      if (this.running === 0) {
        for (const retired of this.retiring) void this.end(retired, false)
        this.retiring.clear()
        this.idleTimer = setTimeout(() => {
          this.release()
        }, this.idleMs)
        this.idleTimer.unref()
      }
    }
  }

  reconnect(): void {
    const current = this.connection
    if (!current) return
    this.connection = undefined
    if (this.running === 0) void this.end(current, false)
    else this.retiring.add(current)
  }

  reset(): void {
    this.drop(true)
  }

  release(): void {
    if (this.running === 0) this.drop(false)
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer)
    const current = this.connection
    this.connection = undefined
    await Promise.all([...this.retiring, ...(current ? [current] : [])].map((c) => this.end(c, false)))
    this.retiring.clear()
  }

  private drop(now: boolean): void {
    const current = this.connection
    this.connection = undefined
    if (current) void this.end(current, now)
  }

  /** Ends a connection: at once, or gracefully within {@link CLOSE_GRACE_MS}. */
  private async end(connection: Promise<MariadbConnection>, now: boolean): Promise<void> {
    const opened = await connection.catch(() => undefined)
    if (!opened) return
    if (now) {
      this.destroy(opened)
      return
    }
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS)
      timer.unref()
    })
    await Promise.race([opened.end().catch(() => undefined), grace])
    clearTimeout(timer)
    this.destroy(opened)
  }

  /**
   * Ends `connection` at once by destroying its socket with an error: its queries still waiting reject with it.
   * Never the driver's `destroy()`, which, with a query waiting, opens another connection to `KILL` the session
   * (to a server that hangs, or lost it in a restart, where the KILL fails: an unhandled rejection of the driver's).
   */
  private destroy(connection: MariadbConnection): void {
    const socket = this.sockets.get(connection)
    if (socket === undefined) connection.destroy()
    else if (!socket.destroyed) socket.destroy(new ReplicaRouterError('the router ended its connection'))
  }

  private async connect(): Promise<MariadbConnection> {
    const driver = await this.load()
    const settings = mariadbSettings(this.url)
    const { host, port } = settings
    let socket: Socket | undefined
    const connecting = driver.createConnection({
      ...settings,
      // The socket is made here so that it can be unref'd: the router's connection never keeps the process alive.
      stream: () => {
        socket = netConnect(port, host)
        socket.on('error', () => undefined) // reported through the driver
        socket.unref()
        return socket
      },
    })
    try {
      const connection = await connecting
      connection.on('error', () => undefined) // a lost connection fails its next query, which drops it
      if (socket) this.sockets.set(connection, socket)
      return connection
    } catch (error) {
      socket?.destroy()
      throw error
    }
  }
}
