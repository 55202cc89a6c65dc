import type { IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

/** Options of {@link startWebSocketProxy}. */
export interface StartWebSocketProxyOptions {
  /**
   * Port to listen on, on 127.0.0.1.
   * @default 0 (a free port)
   */
  readonly port?: number | undefined
}

/** The `ws` package's server, as much of it as is used here. */
interface WsServer {
  on(event: 'connection', listener: (socket: WsSocket, request: IncomingMessage) => void): unknown
  on(event: 'listening', listener: () => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  address(): AddressInfo | string | null
  close(callback?: () => void): void
}

interface WsSocket {
  readonly readyState: number
  binaryType: string
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[]) => void): unknown
  on(event: 'close' | 'error', listener: () => void): unknown
  send(data: Buffer): void
  close(): void
  terminate(): void
  pause(): void
  resume(): void
}

/**
 * A WebSocket-to-TCP proxy on loopback, what Neon's serverless driver (`@neondatabase/serverless`, used by
 * `@prisma/adapter-neon`) needs to reach a local PostgreSQL: set `neonConfig.wsProxy = proxy.wsProxy`,
 * `neonConfig.useSecureWebSocket = false` (and, on Node before 22, `neonConfig.webSocketConstructor = ws`).
 * Each WebSocket opened to `ws://127.0.0.1:<port>/?address=<host>:<port>` is piped, byte for byte, to a TCP
 * connection to that address: PostgreSQL's protocol without TLS, as Neon's own proxy forwards it. Only
 * loopback addresses are forwarded. Needs the `ws` package.
 */
export class WebSocketProxy {
  private readonly sockets = new Set<Socket>()
  private readonly clients = new Set<WsSocket>()

  private constructor(
    private readonly server: WsServer,
    /** The port it listens on, on 127.0.0.1. */
    readonly port: number,
  ) {}

  /** The value for `neonConfig.wsProxy`: `127.0.0.1:<port>/` (the driver adds `?address=<host>:<port>`). */
  get wsProxy(): string {
    return `127.0.0.1:${String(this.port)}/`
  }

  /**
   * The local port of every TCP connection it opened to a server (what the server sees as the client's port,
   * `pg_stat_activity.client_port`): how a test proves a connection came through it.
   */
  readonly ports = new Set<number>()

  /** Connections open through it now (one per WebSocket). */
  get connections(): number {
    return this.clients.size
  }

  /** Ends every connection through it at once (both sides), as a proxy restart does; the proxy keeps listening. */
  dropConnections(): void {
    for (const client of this.clients) client.terminate()
    for (const socket of this.sockets) socket.destroy()
  }

  /** Stops listening and ends every connection through it. */
  async close(): Promise<void> {
    this.dropConnections()
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve()
      })
    })
  }

  /** Starts a proxy: see {@link WebSocketProxy}. */
  static async start(options: StartWebSocketProxyOptions = {}): Promise<WebSocketProxy> {
    const { WebSocketServer } = (await import('ws')) as unknown as {
      WebSocketServer: new (options: { host: string; port: number }) => WsServer
    }
    const server = new WebSocketServer({ host: '127.0.0.1', port: options.port ?? 0 })
    await new Promise<void>((resolve, reject) => {
      server.on('listening', resolve)
      server.on('error', reject)
    })
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('the WebSocket proxy has no TCP address')
    const proxy = new WebSocketProxy(server, address.port)
    server.on('connection', (client, request) => {
      proxy.forward(client, request)
    })
    return proxy
  }

  private forward(client: WsSocket, request: IncomingMessage): void {
    const target = new URL(request.url ?? '/', 'http://proxy').searchParams.get('address') ?? ''
    const match = /^(127\.0\.0\.1|localhost|\[::1\]|::1):(\d+)$/.exec(target)
    if (!match) {
      client.close()
      return
    }
    this.clients.add(client)
    const host = (match[1] ?? '').replace(/^\[|\]$/g, '')
    const socket = connect({ host: host === 'localhost' ? '127.0.0.1' : host, port: Number(match[2]) })
    this.sockets.add(socket)
    socket.setNoDelay(true)
    socket.once('connect', () => {
      if (socket.localPort !== undefined) this.ports.add(socket.localPort)
    })
    const end = (): void => {
      this.clients.delete(client)
      this.sockets.delete(socket)
      socket.destroy()
      client.terminate()
    }
    client.on('message', (data) => {
      const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
      // Back-pressure: the WebSocket waits while the server's socket is full.
      if (!socket.write(chunk)) {
        client.pause()
        socket.once('drain', () => {
          client.resume()
        })
      }
    })
    socket.on('data', (chunk) => {
      client.send(chunk)
    })
    client.on('close', end)
    client.on('error', end)
    socket.on('close', end)
    socket.on('error', end)
  }
}

/** Starts a {@link WebSocketProxy}. */
export function startWebSocketProxy(options?: StartWebSocketProxyOptions): Promise<WebSocketProxy> {
  return WebSocketProxy.start(options)
}
