/**
 * One read-your-writes scope per HTTP request, seeded with the consistency token of this browser's last write:
 * a request that follows a write (a redirect, the next page) reads that write, from a replica that has replayed
 * it or else the primary, even when another app instance serves it. Apply it to every route
 * (`consumer.apply(ConsistencyMiddleware).forRoutes('*')`); writes hand the token over with
 * {@link rememberWrite}.
 */
import { Injectable, type NestMiddleware } from '@nestjs/common'
import type { NextFunction, Request, Response } from 'express'
import { runInScope } from 'prisma-replica-router'
import type { RoutedClient } from './prisma.service.ts'

/** The cookie carrying the consistency token of this browser's last write. */
export const CONSISTENCY_COOKIE = 'rw'

/** How long the token is kept (seconds): it only has to outlive the replicas' lag. */
export const CONSISTENCY_COOKIE_MAX_AGE_S = 60

/** The value of cookie `name` in a `Cookie` header, if present and well-formed. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const pair of header?.split(';') ?? []) {
    const eq = pair.indexOf('=')
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue
    try {
      return decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {
      return undefined
    }
  }
  return undefined
}

@Injectable()
export class ConsistencyMiddleware implements NestMiddleware {
  use(req: Request, _res: Response, next: NextFunction): void {
    // Everything Nest does for this request (guards, interceptors, the handler) runs inside this scope.
    runInScope(next, { token: readCookie(req.headers.cookie, CONSISTENCY_COOKIE) })
  }
}

/** After a write in a handler: hand its consistency token to this browser's next request. */
export async function rememberWrite(db: RoutedClient, res: Response): Promise<void> {
  const token = await db.$consistencyToken()
  if (token === undefined) return
  res.cookie(CONSISTENCY_COOKIE, token, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: CONSISTENCY_COOKIE_MAX_AGE_S * 1000 })
}
