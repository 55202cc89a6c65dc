/**
 * bench/overhead — `npm run bench:overhead`. Latency of reads served by a replica through: a plain PrismaClient
 * connected to the replica (the baseline), a second plain client (a control: what "no difference" measures as),
 * @prisma/extension-read-replicas 0.5, and prisma-replica-router as built (dist/, what users import) applied to
 * a plain client (the fast read path) and after another extension (the query-extension path). Same
 * replica, same queries; each round runs a block of sequential reads per variant, in an order that rotates
 * from round to round, so that no variant always follows the same one.
 */
import { parseArgs } from 'node:util'
import { readReplicas as officialReadReplicas } from '@prisma/extension-read-replicas'
import { readReplicas } from 'prisma-replica-router'
import { client, emitResult, median, percentile, seededCluster } from './support.ts'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '40' }, ops: { type: 'string', default: '100' } } })
const rounds = Number(values.rounds)
const ops = Number(values.ops)

const { cluster, maxUserId } = await seededCluster(1)
try {
  const replicaUrl = cluster.replicaUrls[0]!
  const plain = client(replicaUrl)
  const variants = {
    plain,
    'plain (control)': client(replicaUrl),
    official: client(cluster.primaryUrl).$extends(officialReadReplicas({ replicas: [client(replicaUrl)] })),
    ours: client(cluster.primaryUrl).$extends(readReplicas({ replicas: [client(replicaUrl)] })),
    // readReplicas applied after another extension (here an empty one): reads take the path that honours it.
    'ours (after another extension)': client(cluster.primaryUrl)
      .$extends({ name: 'another' })
      .$extends(readReplicas({ replicas: [client(replicaUrl)] })),
  }
  type Name = keyof typeof variants
  const names = Object.keys(variants) as Name[]
  const queries = {
    'findUnique by id': (c: typeof plain, i: number) => c.user.findUnique({ where: { id: 1 + (i % maxUserId) } }),
    'findMany take 20': (c: typeof plain, i: number) => c.post.findMany({ take: 20, skip: i % 50, orderBy: { id: 'asc' } }),
  }
  const samples: Record<string, Record<Name, number[]>> = {}
  for (const query of Object.keys(queries)) samples[query] = Object.fromEntries(names.map((n) => [n, []])) as unknown as Record<Name, number[]>
  // Warm up every pool and code path.
  for (const c of Object.values(variants)) for (const run of Object.values(queries)) for (let i = 0; i < 200; i++) await run(c as typeof plain, i)
  for (let round = 0; round < rounds; round++) {
    for (const [query, run] of Object.entries(queries)) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(round + k) % names.length]!
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
  console.log(`\n${String(rounds)} rounds × ${String(ops)} sequential reads per variant and query (order rotating), replica on loopback\n`)
  console.log('| query | variant | median | p99 | median / plain |')
  console.log('| --- | --- | ---: | ---: | ---: |')
  for (const [query, byVariant] of Object.entries(samples)) {
    result[query] = {} as Record<Name, { median: number; p99: number }>
    const base = median(byVariant.plain)
    for (const name of names) {
      const m = median(byVariant[name])
      const p99 = percentile(byVariant[name], 99)
      result[query][name] = { median: m, p99 }
      console.log(`| ${query} | ${name} | ${(m * 1000).toFixed(0)} µs | ${(p99 * 1000).toFixed(0)} µs | ${(m / base).toFixed(3)} |`)
    }
  }
  console.log('\n`plain (control)` is a second plain client on the same replica: its distance from 1.000 is the noise of this run.')
  emitResult('overhead', { rounds, ops, result })
  await Promise.all(Object.values(variants).map((c) => c.$disconnect()))
} finally {
  await cluster.stop()
}
