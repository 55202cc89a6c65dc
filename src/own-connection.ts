import { Socket } from 'node:net'
import { connectionErrorCause } from './connection-error.js'
import { LinkClosedError, type Row, type ServerLink } from './server-link.js'
import { ReplicaRouterError } from './errors/index.js'

/** The part of node-postgres' `Client` used here. */
interface PgClient {
  connect(): Promise<void>
  query(sql: string): Promise<{ rows: Row[] }>
  end(): Promise<void>
  on(event: 'error' | 'end', listener: () => void): unknown
  readonly connection?: { readonly stream?: Partial<Pick<Socket, 'unref'>> }
}

/** node-postgres' `Client` class (or one with its interface: Neon's serverless driver's). */
export type PgClientClass = new (config: Record<string, unknown>) => PgClient

/**
 * How the router's own connection to a PostgreSQL server is made: node-postgres over TCP
 * ({@link tcpDriver}), or Neon's serverless driver over a WebSocket (neon-driver.ts).
 */
export interface PgDriver {
  /**
   * A client for `settings` whose transport never keeps the process alive (a foreground query holds it, see
   * OwnConnection), and how to destroy that transport at once.
   */
  open(settings: Record<string, unknown>): { readonly client: PgClient; readonly destroy: () => void }
}

/** node-postgres' `Client` over a TCP socket of the router's own, unref'd. */
export function tcpDriver(Client: PgClientClass): PgDriver {
  return {
    open(settings) {
      const socket = new Socket()
      socket.on('error', () => undefined) // reported through the client; never an unhandled 'error' event
      socket.unref()
      return {
        client: new Client({ ...settings, stream: socket }),
        destroy: () => socket.destroy(),
      }
    },
  }
}

/**
 * node-postgres, as the application has it installed (`@prisma/adapter-pg` depends on it; it is an optional
 * peer dependency of this package). Loaded on first use only.
 */
export async function loadPg(): Promise<PgDriver> {
  const pg = (await import('pg')) as unknown as { default?: { Client?: unknown }; Client?: unknown }
  const Client = pg.default?.Client ?? pg.Client
  if (typeof Client !== 'function') throw new ReplicaRouterError('the `pg` module has no `Client`')
  return tcpDriver(Client as PgClientClass)
}

/** `application_name` of the router's own connections: how to tell them apart in `pg_stat_activity`. */
export const APPLICATION_NAME = 'prisma-replica-router'

/**
 * `settings` with the router's `application_name`: {@link APPLICATION_NAME}, after the application's own name
 * when it has one (`checkout-api (prisma-replica-router)`; PostgreSQL keeps 63 bytes). A name in the connection
 * string would win over the setting, so it is replaced there.
 */
export function withApplicationName(settings: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const named = (base: unknown) => (typeof base === 'string' && base !== '' ? `${base} (${APPLICATION_NAME})` : APPLICATION_NAME)
  const url = settings.connectionString
  if (typeof url === 'string') {
    try {
      const parsed = new URL(url)
      const own = parsed.searchParams.get('application_name')
      if (own !== null) {
        parsed.searchParams.set('application_name', named(own))
        return { ...settings, connectionString: parsed.toString() }
      }
    } catch {
      // not a URL node-postgres' parser would read differently: the setting below applies
    }
  }
  return { ...settings, application_name: named(settings.application_name) }
}

/** How long `close()` lets a server acknowledge the goodbye before the socket is destroyed (ms). */
const CLOSE_GRACE_MS = 200

/** `work`, failed at once with a LinkClosedError if `session` is closed first (see Session.waiting). */
function abortable<T>(session: Session, work: Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    if (session.ending) {
      work.catch(() => undefined) // its failure is nobody's
      reject(new LinkClosedError())
      return
    }
    session.waiting.add(reject)
    work.then(
      (value) => {
        session.waiting.delete(reject)
        resolve(value)
      },
      (error: unknown) => {
        session.waiting.delete(reject)
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the driver's error, unchanged
        reject(error)
      },
    )
  })
}

interface Session {
  /** Destroys the connection's transport at once (set once the client is made). */
  destroy: (() => void) | undefined
  client: PgClient | undefined
  /** Queries sent on it that have not answered. */
  running: number
  /** The end of the last query sent on it: the next one is sent after it. */
  queue: Promise<unknown>
  /** No new query goes to it; it closes when {@link running} drops to 0. */
  retiring: boolean
  ending: boolean
  /** Its connect() has resolved. */
  connected: boolean
  /**
   * The rejecters of the queries waiting on it (to connect, or for an answer): failed at once when the session
   * is closed under them. A set, not a race with a promise that lives as long as the session: each race would
   * leave a reaction on that promise for every query ever sent.
   */
  readonly waiting: Set<(error: Error) => void>
  /** Resolves once the session's connection is closed. */
  readonly closed: Promise<void>
  readonly markClosed: () => void
  readonly ready: Promise<PgClient>
}

/**
 * The router's own connection to one server: a single node-postgres `Client`, opened on first use, closed after
 * `idleMs` without a query. Its socket never keeps the process alive; a timer does while a foreground query (one
 * an application query waits for) runs. Its queries never pass through the application's PrismaClient: no query
 * log, extension or trace of the application sees them, and they never wait for the application's pool.
 */
export class OwnConnection implements ServerLink {
  readonly own = true
  private session: Session | undefined
  /** Every session not yet ended (the current one, and retiring ones). */
  private readonly sessions = new Set<Session>()
  private foreground = 0
  private keepAlive: NodeJS.Timeout | undefined
  /** The closing of the last connection closed (a new one is opened after it). */
  private closing: Promise<void> = Promise.resolve()
  private lastUsed = 0
  private idleTimer: NodeJS.Timeout | undefined

  /**
   * @param settings node-postgres client settings (from the driver adapter the application's client was built
   *   with); the password stays in them and never reaches an error, log or event of the router.
   * @param idleMs the connection closes after this long without a query.
   */
  constructor(
    private readonly settings: Readonly<Record<string, unknown>>,
    private readonly idleMs: number,
    private readonly load: () => Promise<PgDriver> = loadPg,
  ) {}

  get open(): boolean {
    return this.session !== undefined
  }

  async query(sql: string, foreground: boolean): Promise<readonly Row[]> {
    if (foreground) this.hold()
    const session = (this.session ??= this.connect())
    session.running++
    try {
      const client = await abortable(session, session.ready)
      // One query at a time on the connection (node-postgres deprecates queueing on a busy client).
      const result = session.queue.then(() => client.query(sql))
      session.queue = result.then(
        () => undefined,
        () => undefined,
      )
      return (await abortable(session, result)).rows
    } catch (error) {
      // A failure of the connection (not of the query): the next query opens a new one.
      if (connectionErrorCause(error) !== undefined || session.client === undefined) this.drop(session, true)
      throw error
    } finally {
      session.running--
      if (foreground) this.letGo()
      if (session.retiring && session.running === 0) void this.end(session)
      this.lastUsed = performance.now()
      this.armIdle()
    }
  }

  async queryApart(sql: string, timeoutMs: number): Promise<readonly Row[]> {
    const driver = await this.load()
    const { client, destroy } = driver.open(withApplicationName(this.settings))
    client.on('error', () => undefined) // reported through the query's rejection
    const timer = setTimeout(destroy, timeoutMs)
    timer.unref()
    let connected = false
    try {
      await connectUnreferenced(client)
      connected = true
      return (await client.query(sql)).rows
    } finally {
      clearTimeout(timer)
      // As a session closes (finish): a goodbye if connected, the socket destroyed after it or the grace.
      if (connected) void goodbye(client, false).finally(destroy)
      else destroy()
    }
  }

  /** The next query opens a new connection; this one closes once its queries have answered. */
  reconnect(): void {
    if (this.session) this.drop(this.session, false)
  }

  /** Closes the connection at once, failing the queries on it (a hung server). */
  reset(): void {
    if (this.session) this.drop(this.session, true)
  }

  release(): void {
    if (this.session?.running === 0) this.drop(this.session, true)
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    const sessions = [...this.sessions]
    this.session = undefined
    // The application waits for this (`$disconnect()`): the process stays alive until it is done.
    await Promise.all(sessions.map((session) => this.end(session, true)))
  }

  private connect(): Session {
    let markClosed: () => void = () => undefined
    const closed = new Promise<void>((resolve) => {
      markClosed = resolve
    })
    const session: Session = {
      closed,
      markClosed,
      destroy: undefined,
      client: undefined,
      running: 0,
      queue: Promise.resolve(),
      retiring: false,
      ending: false,
      connected: false,
      waiting: new Set(),
      // After the previous connection has closed: never two connections to the server at once.
      ready: Promise.all([this.load(), this.closing]).then(async ([driver]) => {
        if (this.session !== session) throw new LinkClosedError()
        const { client, destroy } = driver.open(withApplicationName(this.settings))
        session.destroy = destroy
        // The server ended the connection (or it failed): node-postgres fails the queries on it itself.
        const forget = (): void => {
          void this.end(session, false, false)
        }
        client.on('error', forget) // an idle connection that fails: never an unhandled 'error' event
        client.on('end', forget)
        session.client = client
        await connectUnreferenced(client)
        session.connected = true
        return client
      }),
    }
    session.ready.catch(() => undefined)
    this.sessions.add(session)
    return session
  }

  /**
   * While a foreground query runs (an application query waits for it), a timer keeps the process alive: the
   * sockets never do, whatever state the connection is in (connecting, waiting for the previous one to close).
   */
  private hold(): void {
    if (this.foreground++ === 0) this.keepAlive = setInterval(() => undefined, 1 << 30)
  }

  private letGo(): void {
    if (--this.foreground === 0) {
      clearInterval(this.keepAlive)
      this.keepAlive = undefined
    }
  }

  private armIdle(): void {
    if (this.idleTimer || !this.session) return
    const wait = Math.max(1, this.lastUsed + this.idleMs - performance.now())
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined
      const session = this.session
      if (!session) return
      if (session.running === 0 && performance.now() - this.lastUsed >= this.idleMs) this.drop(session, true)
      else this.armIdle()
    }, wait)
    this.idleTimer.unref()
  }

  /**
   * Forgets `session` (if current) and closes it in the background: at once (`now`), else when its queries
   * have answered.
   */
  private drop(session: Session, now: boolean): void {
    if (this.session === session) this.session = undefined
    session.retiring = true
    // The next connection opens once this one has closed: never two to the server at once.
    this.closing = session.closed
    if (now || session.running === 0) void this.end(session)
  }

  /**
   * Closes `session`: a goodbye to the server if it is connected, and the socket destroyed after at most
   * {@link CLOSE_GRACE_MS} (a frozen server never answers it). Queries still waiting for it fail.
   * `keepAlive`: the process stays alive until it is done (the application awaits it). `abort`: queries on it
   * fail with a LinkClosedError now (else node-postgres fails them, with the server's reason).
   */
  private end(session: Session, keepAlive = false, abort = true): Promise<void> {
    if (this.session === session) this.session = undefined
    if (session.ending) return session.closed
    session.ending = true
    if (abort) {
      for (const reject of session.waiting) reject(new LinkClosedError())
      session.waiting.clear()
    }
    void this.finish(session, keepAlive).finally(session.markClosed)
    return session.closed
  }

  private async finish(session: Session, keepAlive: boolean): Promise<void> {
    this.sessions.delete(session)
    const client = session.client
    if (client && session.connected) await goodbye(client, keepAlive)
    // Not connected yet: no goodbye (node-postgres would never settle its connect()); the transport's end fails it.
    session.destroy?.()
  }
}

/**
 * Connects `client`; its transport never keeps the process alive (the TLS stream, once upgraded, is unref'd
 * like the socket under it).
 */
async function connectUnreferenced(client: PgClient): Promise<void> {
  const connected = client.connect()
  client.connection?.stream?.unref?.()
  await connected
  client.connection?.stream?.unref?.()
}

/**
 * A goodbye to the server on a connected `client`, waited for {@link CLOSE_GRACE_MS} at most (a frozen server
 * never answers it). `keepAlive`: the process stays alive meanwhile.
 */
async function goodbye(client: PgClient, keepAlive: boolean): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    client.end().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS)
      if (!keepAlive) timer.unref()
    }),
  ])
  clearTimeout(timer)
}
