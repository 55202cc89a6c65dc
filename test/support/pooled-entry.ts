import { listen } from '../../src/testing/listen.ts'
import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A loopback TCP proxy that spreads incoming connections round-robin over several servers: a stand-in for a
 * pooler, HAProxy or a cloud "reader endpoint" in front of standbys with different lag. Each client connection
 * sticks to the server it was given, so one pool of connections mixes servers. Never keeps the process alive.
 */
export class PooledEntry {
  private readonly sockets = new Set<Socket>()
  private next = 0
  /** Connections handed to each target, by index. */
  readonly connections: number[]

  private constructor(
    private readonly server: Server,
    private readonly targets: readonly { readonly host: string; readonly port: number }[],
  ) {
    this.connections = targets.map(() => 0)
  }

  static async start(targets: readonly { readonly host: string; readonly port: number }[]): Promise<PooledEntry> {
    if (targets.length === 0) throw new TypeError('PooledEntry needs at least one target')
    const server = createServer()
    const entry = new PooledEntry(server, targets)
    server.on('connection', (socket) => {
      entry.accept(socket)
    })
    await listen(server, 0)
    server.unref()
    return entry
  }

  get port(): number {
    const address = this.server.address()
    if (address === null || typeof address === 'string') throw new Error('PooledEntry is not listening')
    return address.port
  }

  /** A connection string to the entry for `database`. */
  /** The entry's URL for `database`, in the form of `like` (a backend's URL: PostgreSQL or MariaDB). */
  url(database: string, like = 'postgresql://postgres@127.0.0.1:1/'): string {
    const url = new URL(like)
    url.port = String(this.port)
    url.pathname = `/${database}`
    return url.toString()
  }

  private track(socket: Socket): void {
    socket.unref()
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
  }

  private accept(client: Socket): void {
    const index = this.next % this.targets.length
    this.next += 1
    const target = this.targets[index] as { host: string; port: number }
    this.connections[index] = (this.connections[index] ?? 0) + 1
    const upstream = connect(target.port, target.host)
    this.track(client)
    this.track(upstream)
    const closeBoth = (): void => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', closeBoth)
    upstream.on('error', closeBoth)
    client.on('close', closeBoth)
    upstream.on('close', closeBoth)
    client.pipe(upstream)
    upstream.pipe(client)
  }

  /** Stops accepting, destroys every open socket, and waits until the server is closed. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve()
      })
    })
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
    await closed
  }
}
