/**
 * bench/balance — `npm run bench:balance`. Share of reads per replica under 16 concurrent workers for each
 * built-in policy (weights 1 and 2 for `weighted`), counted from routing decisions. max/min = 1.00 is perfectly even.
 */
import { readReplicas, type PolicyName } from 'prisma-replica-router'
import { client, emitResult, seededCluster } from './support.ts'

const { cluster, maxUserId } = await seededCluster(2)
const rows: { policy: string; shares: Record<string, number>; maxMin: number }[] = []
try {
  for (const policy of ['round-robin', 'random', 'weighted', 'least-in-flight'] as PolicyName[]) {
    const counts: Record<string, number> = {}
    const prisma = client(cluster.primaryUrl).$extends(
      readReplicas({
        replicas: cluster.info.replicas.map((r, i) => ({ client: client(r.url), name: r.name, weight: i + 1 })),
        policy,
        onRoute: (e) => {
          if (e.replica) counts[e.replica] = (counts[e.replica] ?? 0) + 1
        },
      }),
    )
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 250; i++) await prisma.user.findUnique({ where: { id: 1 + ((w * 250 + i) % maxUserId) } })
      }),
    )
    await prisma.$disconnect()
    const values = Object.values(counts)
    rows.push({ policy, shares: counts, maxMin: Math.max(...values) / Math.min(...values) })
  }
} finally {
  await cluster.stop()
}
console.log('\n16 workers × 250 reads per policy; replica-1 weight 1, replica-2 weight 2 (used by `weighted` only)\n')
console.log('| policy | replica-1 | replica-2 | max/min |')
console.log('| --- | ---: | ---: | ---: |')
for (const r of rows) console.log(`| ${r.policy} | ${String(r.shares['replica-1'] ?? 0)} | ${String(r.shares['replica-2'] ?? 0)} | ${r.maxMin.toFixed(2)} |`)
emitResult('balance', rows)
