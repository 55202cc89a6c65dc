/**
 * bench/consistency — not a test. `npm run bench:consistency [-- --workers 16 --seconds 2 --rounds 3]`
 * Mixed workload at fixed concurrency: 10% of a worker's operations are a write (create) followed by 3 reads of
 * the written row, the rest are reads of random rows. Two shapes: each worker one long-lived scope (the worst
 * case for monotonic reads: a scope that fell back to the primary keeps needing newer positions while it keeps
 * reading), and each worker a sequence of requests, a scope of 4 operations each (a web app). Compares no
 * stickiness, window mode (2 s), LSN mode without and with monotonic reads (the default), and the default with `waitMs: 20`, interleaved
 * (A B C D A B C D …), with replicas replaying normally and with 100 ms of injected replay delay. Prints stale
 * reads, share of reads on replicas, primary queries per second, p50/p99 read latency, the extra round trips
 * per write (primary position queries) and per read (replica replay checks, before and after reads). `--engine mariadb`: a MariaDB primary + 2 GTID replicas, with 1 s of `MASTER_DELAY` (whole
 * seconds) for the lagging rows.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { parseArgs } from 'node:util'
import { readReplicas, runInScope, type ReadReplicasOptions } from 'prisma-replica-router'
import { benchCluster, type BenchEngine } from './support.ts'

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    engine: { type: 'string', default: 'postgresql' },
  },
})
const engine = values.engine as BenchEngine
/** Injected replay delay of the lagging rows (MariaDB's MASTER_DELAY is in whole seconds). */
const lagged = engine === 'mariadb' ? 1000 : 100
const workers = Number(values.workers)
const seconds = Number(values.seconds)
const rounds = Number(values.rounds)

const variants: { name: string; sticky: ReadReplicasOptions['sticky'] }[] = [
  { name: 'none (sticky: false)', sticky: false },
  { name: 'window 2000 ms', sticky: { mode: 'window', windowMs: 2000 } },
  { name: 'lsn, monotonic: false', sticky: { mode: 'lsn', monotonic: false } },
  { name: 'lsn (monotonic reads, default)', sticky: { mode: 'lsn' } },
  { name: 'lsn + waitMs 20', sticky: { mode: 'lsn', waitMs: 20 } },
]

interface Totals {
  reads: number
  ownReads: number
  ownOnReplica: number
  stale: number
  onReplica: number
  primaryQueries: number
  writes: number
  positionQueries: number
  replicaChecks: number
  elapsedMs: number
  latencies: number[]
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

const { cluster, client, replica, options } = await benchCluster(engine)
try {
  const seed = client(cluster.primaryUrl)
  await seed.note.createMany({ data: Array.from({ length: 1000 }, (_, i) => ({ title: `seed-${String(i)}` })) })
  const maxId = (await seed.note.aggregate({ _max: { id: true } }))._max.id ?? 1
  await cluster.waitForReplication()

  for (const [lagMs, perRequest] of [
    [0, false],
    [lagged, false],
    [0, true],
    [lagged, true],
  ] as const) {
    for (const name of ['replica-1', 'replica-2']) await cluster.setReplicaLag(name, lagMs)
    const totals = new Map<string, Totals>(
      variants.map((v) => [
        v.name,
        { reads: 0, ownReads: 0, ownOnReplica: 0, stale: 0, onReplica: 0, primaryQueries: 0, writes: 0, positionQueries: 0, replicaChecks: 0, elapsedMs: 0, latencies: [] },
      ]),
    )
    for (let round = 0; round < rounds; round++) {
      for (const variant of variants) {
        const t = totals.get(variant.name)!
        // Where each read went, recorded on the read itself: concurrent workers' events never mix.
        const slot = new AsyncLocalStorage<{ target?: string }>()
        const prisma = client(cluster.primaryUrl).$extends(
          readReplicas({
            ...options,
            replicas: cluster.info.replicas.map(replica),
            sticky: variant.sticky,
            onRoute: (e) => {
              const read = slot.getStore()
              if (read) read.target = e.target
              if (e.target === 'primary') t.primaryQueries += 1
            },
          }),
        )
        await prisma.$connect()
        const started = performance.now()
        const end = started + seconds * 1000
        const read = async (id: number, own: boolean) => {
          const at = performance.now()
          const routed: { target?: string } = {}
          // Awaited inside the slot: a PrismaPromise runs when awaited.
          const row = await slot.run(routed, async () => await prisma.note.findUnique({ where: { id } }))
          t.latencies.push(performance.now() - at)
          t.reads += 1
          if (routed.target === 'replica') t.onReplica += 1
          if (own) {
            t.ownReads += 1
            if (routed.target === 'replica') t.ownOnReplica += 1
            if (!row) t.stale += 1
          }
        }
        /** One operation: a write and 3 reads of it, or a read of a random row. */
        const operation = async () => {
          if (Math.random() < 0.1) {
            const note = await prisma.note.create({ data: { title: 'w' } })
            t.writes += 1
            for (let i = 0; i < 3; i++) await read(note.id, true)
          } else {
            await read(1 + Math.floor(Math.random() * maxId), false)
          }
        }
        await Promise.all(
          Array.from({ length: workers }, async () => {
            if (!perRequest) {
              await runInScope(async () => {
                while (performance.now() < end) await operation()
              })
              return
            }
            while (performance.now() < end) {
              await runInScope(async () => {
                for (let i = 0; i < 4; i++) await operation()
              })
            }
          }),
        )
        t.elapsedMs += performance.now() - started
        const stats = prisma.$routerStats()
        t.positionQueries += stats.positionQueries
        t.replicaChecks += stats.replicaChecks
        t.primaryQueries += stats.positionQueries
        await prisma.$disconnect()
      }
    }
    const lag =
      `${engine}, ` +
      (lagMs === 0 ? 'replicas replaying normally (loopback, ~1 ms)' : `${String(lagMs)} ms ${engine === 'mariadb' ? 'MASTER_DELAY' : 'recovery_min_apply_delay'} on both replicas`)
    console.log(`\n### ${perRequest ? 'requests of 4 operations, a scope each' : 'long-lived scopes'}, ${lag}\n`)
    console.log(
      `${String(workers)} workers (${perRequest ? 'each a sequence of requests, a scope of 4 operations each' : 'each one scope for the whole run'}), ` +
        `10% writes each followed by 3 reads of the written row, ${String(rounds)} interleaved rounds × ${String(seconds)} s per variant\n`,
    )
    console.log(
      '| sticky | stale reads (of own writes) | reads of own writes on replicas | reads on replicas | reads/s | primary queries/s | read p50 | read p99 | extra round trips / write (primary) | extra round trips / read (replicas) |',
    )
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const variant of variants) {
      const t = totals.get(variant.name)!
      const sorted = [...t.latencies].sort((a, b) => a - b)
      console.log(
        `| ${variant.name} | ${String(t.stale)} / ${String(t.ownReads)} | ${((100 * t.ownOnReplica) / Math.max(1, t.ownReads)).toFixed(1)}% | ${((100 * t.onReplica) / t.reads).toFixed(1)}% | ${((1000 * t.reads) / t.elapsedMs).toFixed(0)} | ` +
          `${((1000 * t.primaryQueries) / t.elapsedMs).toFixed(0)} | ${percentile(sorted, 50).toFixed(2)} ms | ${percentile(sorted, 99).toFixed(2)} ms | ` +
          `${(t.positionQueries / Math.max(1, t.writes)).toFixed(2)} | ${(t.replicaChecks / Math.max(1, t.reads)).toFixed(2)} |`,
      )
    }
  }
} finally {
  await cluster.stop()
}
