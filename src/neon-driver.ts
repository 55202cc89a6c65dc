import { connect as netConnect, isIP, type Socket } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { ReplicaRouterError } from './errors/index.js'
import type { PgClientClass, PgDriver } from './own-connection.js'

/** The `ws` package's WebSocket class, as much of it as is used here. */
type WsClass = new (
  url: string,
  protocols: string | string[] | undefined,
  options: { createConnection: (options: ConnectionOptions & { host?: string }) => Socket },
) => { terminate(): void }

/** The part of Neon's socket shim (a client's `neonConfig`) the router sets and reads. */
interface NeonSocket {
  webSocketConstructor?: unknown
  readonly ws?: { terminate?: () => void; close?: () => void }
  destroy?: () => void
}

/**
 * `ws`'s WebSocket whose TCP (or TLS) socket is unref'd from the start: a connection of the router's own never
 * keeps the process alive (a foreground query holds it while it runs, see OwnConnection).
 */
function unrefWebSocket(WebSocket: WsClass): WsClass {
  return class UnrefWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, {
        createConnection: (options) => {
          // As `ws` connects when no createConnection is given (its tlsConnect: SNI unless the host is an IP).
          const socket = url.startsWith('wss:')
            ? tlsConnect({ ...options, path: undefined, servername: options.servername ?? (isIP(options.host ?? '') ? '' : options.host) })
            : netConnect({ ...options, path: undefined } as unknown as Parameters<typeof netConnect>[0])
          socket.unref()
          return socket
        },
      })
    }
  }
}

/**
 * Neon's serverless driver (`@neondatabase/serverless`, which `@prisma/adapter-neon` uses): its `Client` (node-postgres'
 * with a WebSocket for a socket), with the application's `neonConfig` (proxy, TLS, pipelining), except that the
 * router's connections use `ws`, with sockets that never keep the process alive. Both are optional peer
 * dependencies, loaded on first use; a ReplicaRouterError when one is missing.
 */
export async function loadNeonDriver(): Promise<PgDriver> {
  const neon = (await import('@neondatabase/serverless')) as unknown as { Client?: unknown; default?: { Client?: unknown } }
  const Client = neon.Client ?? neon.default?.Client
  if (typeof Client !== 'function') throw new ReplicaRouterError('the `@neondatabase/serverless` module has no `Client`')
  const ws = (await import('ws')) as unknown as { WebSocket?: unknown; default?: unknown }
  const WebSocket = ws.WebSocket ?? ws.default
  if (typeof WebSocket !== 'function') throw new ReplicaRouterError('the `ws` module has no `WebSocket`')
  const UnrefWebSocket = unrefWebSocket(WebSocket as WsClass)
  return {
    open(settings) {
      const client = new (Client as PgClientClass)(settings)
      const socket = (client as unknown as { neonConfig: NeonSocket }).neonConfig
      socket.webSocketConstructor = UnrefWebSocket
      return {
        client,
        destroy: () => {
          // At once, without the closing handshake a frozen server or proxy would never answer.
          if (socket.ws?.terminate) socket.ws.terminate()
          else socket.destroy?.()
        },
      }
    },
  }
}
