import { asRouterWork } from './router-work.js'

/** A row of a router query: column name -> value as the driver returns it. */
export type Row = Readonly<Record<string, unknown>>

/**
 * How the router sends its own queries (health checks, WAL positions) to one server. Either its own connection
 * ({@link OwnConnection}: invisible to the application, never queued behind it) or, where connection settings
 * cannot be obtained, the application's PrismaClient ({@link ClientLink}).
 */
export interface ServerLink {
  /** `true` for the router's own connection; `false` when queries go through the application's client. */
  readonly own: boolean
  /**
   * Runs `sql` (no parameters) and resolves with its rows. `foreground`: an application query waits for the
   * answer, so it keeps the process alive meanwhile; background queries (health checks) never do.
   */
  query(sql: string, foreground: boolean): Promise<readonly Row[]>
  /** Whether a connection is open now (always `true` for a client link: the application's pool decides). */
  readonly open: boolean
  /**
   * The next query opens a new connection (this one closes once its queries have answered): how the health
   * check sees another server behind one entry.
   */
  reconnect(): void
  /**
   * Runs `sql` (in the background) on a connection of its own, opened for it beside the current one and closed
   * after it, or after `timeoutMs` at most: how the health check holds two sessions at once through a pooler.
   * Only the router's own connection has it.
   */
  queryApart?(sql: string, timeoutMs: number): Promise<readonly Row[]>
  /** Closes the connection at once, failing the queries on it: a connection stuck on a hung server. */
  reset(): void
  /** Closes the connection unless a query runs on it (the router went idle); the next query opens a new one. */
  release(): void
  /**
   * Closes the connection (`$disconnect()`): queries on it fail; a later query opens a new one, as Prisma's own
   * clients reconnect. Never waits longer than about 200 ms, even on a frozen server.
   */
  close(): Promise<void>
}

/** The part of a PrismaClient a {@link ClientLink} uses. */
export interface RawQueryable {
  $queryRawUnsafe(query: string): PromiseLike<unknown>
}

/**
 * Today's fallback: router queries through the application's own PrismaClient (its pool, its query log, its
 * extensions). Used only where the router cannot open connections of its own (see `connection-settings.ts`).
 */
export class ClientLink implements ServerLink {
  readonly own = false
  readonly open = true
  constructor(private readonly client: RawQueryable) {}

  async query(sql: string): Promise<readonly Row[]> {
    // The router's own work: never taken for the application's query on the primary (src/router-work.ts).
    const rows = await asRouterWork(() => Promise.resolve(this.client.$queryRawUnsafe(sql)))
    return Array.isArray(rows) ? (rows as Row[]) : []
  }

  reconnect(): void {
    // The application's pool spreads queries over its connections itself.
  }

  reset(): void {
    // The application's pool handles its connections.
  }

  release(): void {
    // The application's pool closes its idle connections itself.
  }

  close(): Promise<void> {
    return Promise.resolve() // the application's client is disconnected with the others
  }
}

/** A router query whose connection was closed under it (`$disconnect()`): a connection-level failure (cause `closed`). */
export class LinkClosedError extends Error {
  /** `LinkClosedError`, the class name. */
  override name = 'LinkClosedError'
  readonly code = 'closed'

  constructor() {
    super('The router was disconnected')
  }
}
