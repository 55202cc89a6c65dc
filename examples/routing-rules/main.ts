/**
 * `npm run example:routing-rules`: a local primary + 2 replicas, per-model rules, a region-aware policy and
 * explicit `$primary()` / `$replica(name)`, printing where every query went.
 * `npm run example:routing-rules -- --engine mariadb`: the same on a MariaDB primary + 2 GTID replicas.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { RouteEvent } from 'prisma-replica-router'
import { assertPrimary } from 'prisma-replica-router'
import { startLocalCluster } from 'prisma-replica-router/testing'
import { prismaMigrateDeploy } from 'prisma-replica-router/testing'
import { routedClient } from './rules.ts'

const show = (e: RouteEvent) => {
  console.log(`  ${`${e.model ?? ''}.${e.operation}`.padEnd(22)} -> ${(e.replica ?? e.target).padEnd(13)} (${e.reason})`)
}

const engine = parseArgs({ options: { engine: { type: 'string', default: 'postgresql' } } }).values.engine
if (engine !== 'postgresql' && engine !== 'mariadb') throw new TypeError(`--engine: expected postgresql or mariadb, got ${engine}`)

const cluster = engine === 'mariadb' ? await startLocalCluster({ engine, replicas: 2 }) : await startLocalCluster({ replicas: 2 })
try {
  await assertPrimary(cluster.primaryUrl, 'the primary URL')
  // MariaDB: the tables from SQL (this repository's offline Prisma CLI migrates PostgreSQL only).
  if ('runScript' in cluster) await cluster.runScript('primary', await readFile(new URL('../../prisma/mysql/tables.sql', import.meta.url), 'utf8'))
  else await prismaMigrateDeploy(cluster.primaryUrl)
  await cluster.waitForReplication()
  console.log(`engine: ${engine}`)
  const prisma = routedClient(cluster.primaryUrl, cluster.replicaUrls, show, engine)

  console.log('writes: always the primary')
  await prisma.auditLog.create({ data: { action: 'login', actor: 'ada' } })
  await prisma.dailyReport.create({ data: { day: new Date('2026-11-20'), signups: 12, posts: 40 } })
  await prisma.post.count()
  await cluster.waitForReplication()

  console.log('\nrules: AuditLog -> primary, DailyReport -> us-analytics')
  await prisma.auditLog.findMany()
  await prisma.dailyReport.findMany()

  console.log('\npolicy same-region-first(eu): other models read from eu-app while it is in rotation')
  for (let i = 0; i < 3; i++) await prisma.user.count()

  console.log('\nexplicit, like Django using(): $primary() and $replica(name)')
  await prisma.$primary().user.count()
  await prisma.$replica('us-analytics').user.count()
  await prisma.$disconnect()
} finally {
  await cluster.stop()
}
