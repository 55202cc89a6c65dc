import { neonConfig } from '@neondatabase/serverless'
import { PrismaNeon } from '@prisma/adapter-neon'
import { PrismaPg } from '@prisma/adapter-pg'
import ws from 'ws'

/** A driver adapter the db tests build PostgreSQL clients with. */
export type TestDriver = 'pg' | 'neon'

/**
 * The driver adapter of this run: `TEST_DRIVER=neon` (the `db-neon` project) for `@prisma/adapter-neon`, Neon's
 * serverless driver over WebSockets through the test kit's WebSocket-to-TCP proxy; else `@prisma/adapter-pg`.
 */
export const testDriver: TestDriver = process.env.TEST_DRIVER === 'neon' ? 'neon' : 'pg'

/**
 * Points Neon's serverless driver at a local PostgreSQL through the WebSocket proxy at `wsProxy` (as Neon's docs
 * say for local development: no TLS on the WebSocket, no pipelined connect, `ws` for a WebSocket on Node 20).
 */
export function useWebSocketProxy(wsProxy: string): void {
  neonConfig.wsProxy = wsProxy
  neonConfig.useSecureWebSocket = false
  neonConfig.pipelineConnect = false
  neonConfig.webSocketConstructor = ws
}

/** The driver adapter of `driver` (default: `TEST_DRIVER` as it is now) for `url`. */
export function adapterFor(url: string, driver: TestDriver = process.env.TEST_DRIVER === 'neon' ? 'neon' : 'pg', pool: { idleTimeoutMillis?: number } = {}): PrismaPg | PrismaNeon {
  return driver === 'neon' ? new PrismaNeon({ connectionString: url, ...pool }) : new PrismaPg({ connectionString: url, ...pool })
}
