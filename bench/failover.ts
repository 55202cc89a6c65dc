/**
 * bench/failover — not a test. `npm run bench:failover [-- --readers 8 --seconds 12]`
 * A local primary + 2 streaming replicas, N concurrent readers through prisma-replica-router; replica-1 is
 * killed (`pg_ctl -m immediate stop`; MariaDB: SIGKILL) at 25% of the run and restarted at 60%. Prints failed
 * reads, reads per server per second, time to exclusion and to re-admission. `--engine mariadb`: a MariaDB
 * primary + 2 GTID replicas instead.
 */
import { parseArgs } from 'node:util'
import { readReplicas, type HealthEvent } from 'prisma-replica-router'
import { benchCluster, type BenchEngine } from './support.ts'

const { values } = parseArgs({
  options: { readers: { type: 'string', default: '8' }, seconds: { type: 'string', default: '12' }, engine: { type: 'string', default: 'postgresql' } },
})
const readers = Number(values.readers)
const seconds = Number(values.seconds)
const engine = values.engine as BenchEngine

const { cluster, client, replica, options } = await benchCluster(engine)
try {
  await client(cluster.primaryUrl).note.createMany({ data: Array.from({ length: 100 }, (_, i) => ({ title: `n${String(i)}` })) })
  await cluster.waitForReplication()

  const t0 = performance.now()
  const second = () => Math.floor((performance.now() - t0) / 1000)
  const served: Record<string, number>[] = []
  const health: (HealthEvent & { at: number })[] = []
  const prisma = client(cluster.primaryUrl).$extends(
    readReplicas({
      ...options,
      replicas: cluster.info.replicas.map(replica),
      sticky: false,
      onRoute: (e) => {
        const bucket = (served[second()] ??= {})
        const server = e.replica ?? 'primary'
        bucket[server] = (bucket[server] ?? 0) + 1
      },
      onHealthChange: (e) => health.push({ ...e, at: performance.now() }),
    }),
  )
  let ok = 0
  let failed = 0
  const end = t0 + seconds * 1000
  const load = Promise.all(
    Array.from({ length: readers }, async () => {
      while (performance.now() < end) {
        try {
          await prisma.note.findFirst({ where: { id: { gt: 0 } } })
          ok += 1
        } catch {
          failed += 1
        }
      }
    }),
  )
  const at = (fraction: number) => new Promise((resolve) => setTimeout(resolve, t0 + seconds * 1000 * fraction - performance.now()))
  await at(0.25)
  const killedAt = performance.now()
  await cluster.stopReplica('replica-1')
  await at(0.6)
  await cluster.startReplica('replica-1')
  const restartedAt = performance.now()
  await load
  await prisma.$disconnect()

  const down = health.find((e) => e.replica === 'replica-1' && e.state === 'down')
  const up = health.find((e) => e.replica === 'replica-1' && e.state === 'up' && e.at > restartedAt)
  console.log(`\nbench/failover (${engine}): ${String(readers)} readers, ${String(seconds)} s, health check every 1000 ms (default)`)
  console.log(`replica-1 killed at ${((killedAt - t0) / 1000).toFixed(1)} s, restarted at ${((restartedAt - t0) / 1000).toFixed(1)} s\n`)
  console.log('| second | replica-1 | replica-2 | primary |')
  console.log('| ---: | ---: | ---: | ---: |')
  served.slice(0, seconds).forEach((bucket, s) => {
    console.log(`| ${String(s)} | ${String(bucket['replica-1'] ?? 0)} | ${String(bucket['replica-2'] ?? 0)} | ${String(bucket.primary ?? 0)} |`)
  })
  console.log(`\nreads ok: ${String(ok)}, failed reads: ${String(failed)}`)
  console.log(`time to exclusion: ${down ? `${(down.at - killedAt).toFixed(1)} ms (cause ${down.cause})` : 'never'}`)
  console.log(`time to re-admission after restart: ${up ? `${(up.at - restartedAt).toFixed(0)} ms` : 'not within the run'}`)
} finally {
  await cluster.stop()
}
