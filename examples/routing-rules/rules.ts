/**
 * Django-style routing, translated: the multi-database guide routes by app and model (`db_for_read`), picks a
 * random replica, and forces a database with `using()`. Here: per-model `rules`, a custom policy, and
 * `$primary()` / `$replica(name)`.
 */
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient as MariaClient } from '../../generated/mysql/client.ts'
import { PrismaClient } from '../../generated/prisma/client.ts'
import { readReplicas, type ReadReplicasOptions, type RoutingPolicy } from 'prisma-replica-router'

/**
 * A region-aware policy: prefer replicas whose name starts with this instance's region, else any.
 * (Django: a router whose db_for_read returns the closest replica.)
 */
export function sameRegionFirst(region: string): RoutingPolicy {
  let next = 0
  return {
    name: `same-region-first(${region})`,
    pick(candidates) {
      const local = candidates.filter((c) => c.name.startsWith(`${region}-`))
      const pool = local.length > 0 ? local : candidates
      next = (next + 1) % pool.length
      return pool[next] ?? candidates[0]!
    },
  }
}

/**
 * Replica URLs in order: the first is the application replica in `eu`, the second the reporting replica.
 * `engine: 'mariadb'`: MariaDB clients (`@prisma/adapter-mariadb`, the same models), with the URLs the router
 * needs for its own connections; typed as the PostgreSQL client, whose models they share.
 */
export function routedClient(primaryUrl: string, replicaUrls: readonly string[], onRoute?: ReadReplicasOptions['onRoute'], engine: 'postgresql' | 'mariadb' = 'postgresql') {
  const client =
    engine === 'mariadb'
      ? (url: string) => new MariaClient({ adapter: new PrismaMariaDb(url) }) as unknown as PrismaClient
      : (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })
  const [app, analytics] = replicaUrls
  if (!app || !analytics) throw new Error('routing-rules needs 2 replicas: an application replica and a reporting one')
  const own = engine === 'mariadb'
  return client(primaryUrl).$extends(
    readReplicas({
      ...(own ? { primaryConnection: primaryUrl } : {}),
      replicas: [
        { client: client(app), name: 'eu-app', ...(own ? { connection: app } : {}) },
        { client: client(analytics), name: 'us-analytics', ...(own ? { connection: analytics } : {}) },
      ],
      policy: sameRegionFirst('eu'),
      rules: {
        AuditLog: 'primary', // never stale: always the primary
        DailyReport: 'us-analytics', // heavy reporting reads: only the reporting replica
      },
      onRoute,
    }),
  )
}
