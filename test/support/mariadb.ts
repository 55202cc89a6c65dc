/**
 * The MariaDB side of the db tests that run on both engines: clients of prisma/mysql/schema.prisma through
 * `@prisma/adapter-mariadb`, a routed client over the MariaDB primary and replicas, and the cluster's controls.
 */
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { inject, type TestContext } from 'vitest'
import { PrismaClient } from '../../generated/mysql/client.ts'
import { readReplicas, type HealthEvent, type ReadReplicasOptions, type RouteEvent } from '../../src/index.ts'
import { MariadbCluster } from '../../src/testing/mariadb-cluster.ts'

const provided = inject('mariadb')

/** The MariaDB cluster, or `undefined` when this machine has no MariaDB server (see {@link requireMariadb}). */
export const mariadb: MariadbCluster | undefined = 'cluster' in provided ? MariadbCluster.attach(provided.cluster) : undefined

/** Skips the calling test without a MariaDB cluster, saying why. */
export function requireMariadb(ctx: TestContext): MariadbCluster {
  if (!mariadb) return ctx.skip('missing' in provided ? provided.missing : 'no MariaDB cluster')
  return mariadb
}

/** A client of the MariaDB schema on `url`, with a small pool (each client opens its connections eagerly). */
export function newMariaClient(url: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaMariaDb(`${url}?connectionLimit=4`) })
}

/** A routed client over the MariaDB primary and replicas, recording routing and health events. */
export function routedMariaClient(cluster: MariadbCluster, options: Omit<ReadReplicasOptions, 'replicas' | 'onRoute' | 'onHealthChange'> = {}) {
  const events: RouteEvent[] = []
  const health: HealthEvent[] = []
  const base = newMariaClient(cluster.primaryUrl)
  // The router's own connections need the URLs (the adapter keeps its settings private).
  const replicas = cluster.info.replicas.map((r) => ({ client: newMariaClient(r.url), name: r.name, connection: r.url }))
  const prisma = base.$extends(readReplicas({ primaryConnection: cluster.primaryUrl, ...options, replicas, onRoute: (e) => events.push(e), onHealthChange: (e) => health.push(e) }))
  return { prisma, events, health, base, replicas }
}

/** Removes injected lag and restarts, thaws and resumes every replica, then waits for replication. */
export async function healMariaReplicas(): Promise<void> {
  if (!mariadb) return
  for (const { name } of mariadb.info.replicas) {
    if (mariadb.isRunning(name)) await mariadb.thawReplica(name)
    else await mariadb.startReplica(name)
    await mariadb.resumeReplay(name)
  }
  await mariadb.waitForReplication()
}
