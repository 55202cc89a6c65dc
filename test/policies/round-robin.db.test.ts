import { afterAll, expect, it } from 'vitest'
import { replicaNames, requireCluster, routedClient } from '../support/db.ts'

const { prisma } = routedClient({ policy: 'round-robin', sticky: false })
afterAll(() => prisma.$disconnect())

it('round-robin spreads 1,000 reads over 2 replicas within 5%, counted by the servers (pg_stat_statements)', async (ctx) => {
  const cluster = requireCluster(ctx)
  const served = () =>
    Promise.all(
      replicaNames.map(async (name) => {
        const rows = await cluster.query<{ calls: string }>(name, `SELECT coalesce(sum(calls), 0)::text AS calls FROM pg_stat_statements WHERE query LIKE '%FROM "public"."Note"%'`)
        return Number(rows[0]?.calls ?? 0)
      }),
    )
  const before = await served()
  for (let i = 0; i < 1000; i++) await prisma.note.findFirst({ where: { id: -i } })
  const after = await served()
  const perReplica = after.map((n, i) => n - (before[i] ?? 0))
  console.info(`round-robin, 1,000 reads: ${replicaNames.map((n, i) => `${n} ${String(perReplica[i])}`).join(', ')}`)
  expect(perReplica.reduce((a, b) => a + b, 0)).toBe(1000)
  for (const n of perReplica) expect(Math.abs(n - 500)).toBeLessThanOrEqual(25)
})
