/**
 * bench/overhead — `npm run bench:overhead`. Latency of reads served by a replica through: a plain PrismaClient
 * connected to the replica (the baseline), @prisma/extension-read-replicas 0.5, and prisma-replica-router —
 * interleaved A B C A B C … in one process, several rounds, same replica, same queries.
 */
import { parseArgs } from 'node:util'
import { readReplicas as officialReadReplicas } from '@prisma/extension-read-replicas'
import { readReplicas } from '../src/index.ts'
import { client, emitResult, median, percentile, seededCluster } from './support.ts'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' }, ops: { type: 'string', default: '300' } } })
const rounds = Number(values.rounds)
const ops = Number(values.ops)

const { cluster, maxUserId } = await seededCluster(1)
try {
  const replicaUrl = cluster.replicaUrls[0]!
  const plain = client(replicaUrl)
  const official = client(cluster.primaryUrl).$extends(officialReadReplicas({ replicas: [client(replicaUrl)] }))
  const ours = client(cluster.primaryUrl).$extends(readReplicas({ replicas: [client(replicaUrl)] }))
  const variants = { plain, official, ours } as const
  type Name = keyof typeof variants
  const queries = {
    'findUnique by id': (c: typeof plain, i: number) => c.user.findUnique({ where: { id: 1 + (i % maxUserId) } }),
    'findMany take 20': (c: typeof plain, i: number) => c.post.findMany({ take: 20, skip: i % 50, orderBy: { id: 'asc' } }),
  }
  const samples: Record<string, Record<Name, number[]>> = {}
  for (const query of Object.keys(queries)) samples[query] = { plain: [], official: [], ours: [] }
  // Warm up every pool and code path.
  for (const c of Object.values(variants)) for (let i = 0; i < 200; i++) await queries['findUnique by id'](c as typeof plain, i)
  for (let round = 0; round < rounds; round++) {
    for (const [query, run] of Object.entries(queries)) {
      for (const name of Object.keys(variants) as Name[]) {
        const c = variants[name] as typeof plain
        for (let i = 0; i < ops; i++) {
          const t = performance.now()
          await run(c, i)
          samples[query]![name].push(performance.now() - t)
        }
      }
    }
  }
  const result: Record<string, Record<Name, { median: number; p99: number }>> = {}
  console.log(`\n${String(rounds)} interleaved rounds × ${String(ops)} sequential reads per variant and query, replica on loopback\n`)
  console.log('| query | variant | median | p99 | median / plain |')
  console.log('| --- | --- | ---: | ---: | ---: |')
  for (const [query, byVariant] of Object.entries(samples)) {
    result[query] = {} as Record<Name, { median: number; p99: number }>
    const base = median(byVariant.plain)
    for (const name of Object.keys(variants) as Name[]) {
      const m = median(byVariant[name])
      const p99 = percentile(byVariant[name], 99)
      result[query][name] = { median: m, p99 }
      console.log(`| ${query} | ${name} | ${(m * 1000).toFixed(0)} µs | ${(p99 * 1000).toFixed(0)} µs | ${(m / base).toFixed(3)} |`)
    }
  }
  emitResult('overhead', { rounds, ops, result })
  await Promise.all([plain.$disconnect(), official.$disconnect(), ours.$disconnect()])
} finally {
  await cluster.stop()
}
