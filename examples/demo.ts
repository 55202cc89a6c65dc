/**
 * `npm run demo`: starts a local PostgreSQL primary + 2 streaming replicas (no Docker), migrates the primary,
 * writes and reads through prisma-replica-router, prints where every query went, then stops the cluster.
 */
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../generated/prisma/client.ts'
import { readReplicas, runInScope, type RouteEvent } from 'prisma-replica-router'
import { startLocalCluster } from 'prisma-replica-router/testing'
import { prismaMigrateDeploy } from 'prisma-replica-router/testing'

const started = performance.now()
const cluster = await startLocalCluster({ replicas: 2 })
const ms = () => `${(performance.now() - started).toFixed(0).padStart(5)} ms`
console.log(`${ms()}  cluster up: primary :${String(cluster.info.primary.port)}, ${cluster.info.replicas.map((r) => `${r.name} :${String(r.port)}`).join(', ')}`)

const describe = (e: RouteEvent) =>
  ((e.model ? `${e.model}.` : '') + e.operation).padEnd(20) + ` -> ${(e.replica ?? e.target).padEnd(9)} (${e.reason}${e.sticky ? `: ${e.sticky}` : ''})`

try {
  await prismaMigrateDeploy(cluster.primaryUrl)
  await cluster.waitForReplication()
  console.log(`${ms()}  migrated the primary; replicas replayed the schema`)

  const client = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })
  const prisma = client(cluster.primaryUrl).$extends(
    readReplicas({
      replicas: cluster.info.replicas.map((r) => ({ client: client(r.url), name: r.name })),
      onRoute: (event) => {
        console.log(`${ms()}    ${describe(event)}`)
      },
    }),
  )

  console.log('\n-- request A: writes a user, then reads it back (read-your-writes: a replica that has replayed it, else the primary)')
  const user = await runInScope(async () => {
    const created = await prisma.user.create({
      data: { email: 'ada@example.com', name: 'Ada', posts: { create: [{ title: 'Notes on the engine' }] } },
    })
    const again = await prisma.user.findUnique({ where: { id: created.id } })
    console.log(`${ms()}  request A sees its own write: ${String(again?.name)}`)
    console.log(`${ms()}  consistency token for the next request: ${String(await prisma.$consistencyToken())}`)
    return created
  })

  await cluster.waitForReplication()
  console.log('\n-- request B: another scope, not pinned to the primary: reads on replicas, staying on one (monotonic reads)')
  await runInScope(async () => {
    for (let i = 0; i < 4; i++) await prisma.user.count()
    const posts = await prisma.user.findUnique({ where: { id: user.id } }).posts()
    console.log(`${ms()}  fluent API on a replica: ${String(posts?.length ?? 0)} post(s), "${posts?.[0]?.title ?? ''}"`)
  })
  console.log(`${ms()}  (a scope keeps reading from its replica while it can, once the router has identified the replicas: it never sees time go backwards)`)

  console.log('\n-- outside any scope: reads spread over the replicas (round-robin)')
  for (let i = 0; i < 4; i++) await prisma.user.count()

  console.log('\n-- explicit routing, raw queries, transactions')
  await prisma.$primary().user.findMany()
  await prisma.$replica('replica-2').user.findMany()
  await prisma.$queryRaw`SELECT 1`
  await prisma.$transaction([prisma.user.count(), prisma.post.count()])

  await prisma.$disconnect()
} finally {
  await cluster.stop()
  console.log(`\n${ms()}  cluster stopped`)
}
