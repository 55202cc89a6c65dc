/**
 * Read bursts: 10x the replica pool size at once, against 2 replicas, with prisma-replica-router (default
 * health checks) and with @prisma/extension-read-replicas 0.5. The baseline, measured in the same run: plain
 * clients on the two replicas, each burst split between them by hand. Every variant has its own replica clients
 * with the same pool size; bursts of the variants are interleaved. Counts reads that moved to the primary (the
 * router's `onRoute`), errors, and p50/p99 latency of every read.
 */
import { readReplicas as officialReadReplicas } from '@prisma/extension-read-replicas'
import { PrismaPg } from '@prisma/adapter-pg'
import { readReplicas } from 'prisma-replica-router'
import { PrismaClient } from '../generated/prisma/client.ts'
import { emitResult, percentile, seededCluster } from './support.ts'

const POOL = 5
const BURST = 10 * POOL
const BURSTS = Number(process.env.BURSTS ?? 40)

const { cluster, maxUserId } = await seededCluster(2, 200)
try {
  const pooled = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: POOL }), errorFormat: 'minimal' })
  const replicaUrls = cluster.info.replicas.map((r) => r.url)
  const movedToPrimary = { ours: 0 }
  const downs = { ours: 0 }

  const plainReplicas = replicaUrls.map(pooled)
  const official = pooled(cluster.primaryUrl).$extends(officialReadReplicas({ replicas: replicaUrls.map(pooled) }))
  const ours = pooled(cluster.primaryUrl).$extends(
    readReplicas({
      replicas: replicaUrls.map(pooled),
      onRoute: (e) => {
        if (e.target === 'primary') movedToPrimary.ours += 1
      },
      onHealthChange: (e) => {
        if (e.state !== 'up') downs.ours += 1
      },
    }),
  )
  type Db = (typeof plainReplicas)[number]
  const read = (db: Db, i: number) => db.user.findMany({ take: 50, skip: i % Math.max(1, maxUserId - 50), include: { posts: true } })
  const variants: { name: string; db: (i: number) => Db }[] = [
    { name: 'plain clients (baseline)', db: (i) => plainReplicas[i % 2] as Db },
    { name: '@prisma/extension-read-replicas', db: () => official as unknown as Db },
    { name: 'prisma-replica-router', db: () => ours as unknown as Db },
  ]
  const samples = new Map(variants.map((v) => [v.name, [] as number[]]))
  const errors = new Map(variants.map((v) => [v.name, 0]))
  // Warm up every pool and code path.
  for (const v of variants) await Promise.all(Array.from({ length: BURST }, (_, i) => read(v.db(i), i)))
  for (let b = 0; b < BURSTS; b++) {
    for (const v of b % 2 === 0 ? variants : [...variants].reverse()) {
      const times = samples.get(v.name) ?? []
      await Promise.all(
        Array.from({ length: BURST }, async (_, i) => {
          const started = performance.now()
          try {
            await read(v.db(i), b * BURST + i)
            times.push(performance.now() - started)
          } catch {
            errors.set(v.name, (errors.get(v.name) ?? 0) + 1)
          }
        }),
      )
    }
  }
  const base = samples.get(variants[0]?.name ?? '') ?? []
  const [baseP50, baseP99] = [percentile(base, 50), percentile(base, 99)]
  const rows = variants.map((v) => {
    const times = samples.get(v.name) ?? []
    const p50 = percentile(times, 50)
    const p99 = percentile(times, 99)
    const moved = v.name === 'prisma-replica-router' ? String(movedToPrimary.ours) : v.name.startsWith('@prisma') ? '0 (it never moves a read)' : '—'
    return { name: v.name, reads: times.length, moved, errors: errors.get(v.name) ?? 0, p50, p99, p50Ratio: p50 / baseP50, p99Ratio: p99 / baseP99 }
  })
  console.log(`${String(BURSTS)} bursts of ${String(BURST)} concurrent reads (10x a pool of ${String(POOL)} per replica client), 2 replicas, variants interleaved burst by burst.`)
  console.log(`The router's health checks at their defaults (every 1000 ms, 1000 ms timeout); replicas marked down or lagging during the run: ${String(downs.ours)}.\n`)
  console.log('| variant | reads | moved to the primary | errors | p50 ms | p99 ms | p50 / baseline | p99 / baseline |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${String(r.reads)} | ${r.moved} | ${String(r.errors)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.p50Ratio.toFixed(2)} | ${r.p99Ratio.toFixed(2)} |`,
    )
  }
  emitResult('burst', { rows, downs: downs.ours, burst: BURST, bursts: BURSTS })
  await Promise.all([...plainReplicas.map((c) => c.$disconnect()), official.$disconnect(), ours.$disconnect()])
} finally {
  await cluster.stop()
}
