/**
 * `npm run example:routing-rules`: a local primary + 2 replicas, per-model rules, a region-aware policy and
 * explicit `$primary()` / `$replica(name)`, printing where every query went.
 */
import type { RouteEvent } from 'prisma-replica-router'
import { assertPrimary } from 'prisma-replica-router'
import { startLocalCluster } from 'prisma-replica-router/testing'
import { prismaMigrateDeploy } from 'prisma-replica-router/testing'
import { routedClient } from './rules.ts'

const show = (e: RouteEvent) => {
  console.log(`  ${`${e.model ?? ''}.${e.operation}`.padEnd(22)} -> ${(e.replica ?? e.target).padEnd(13)} (${e.reason})`)
}

const cluster = await startLocalCluster({ replicas: 2 })
try {
  await assertPrimary(cluster.primaryUrl, 'the primary URL')
  await prismaMigrateDeploy(cluster.primaryUrl)
  await cluster.waitForReplication()
  const prisma = routedClient(cluster.primaryUrl, cluster.replicaUrls, show)

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
