/**
 * bench/memory — `npm run bench:memory` (runs node with --expose-gc). Heap growth across routed reads made
 * each in its own per-request scope, every 10th scope writing first (so it holds read-your-writes state):
 * per-request scopes must not leak. Measured after a full GC at the start and at the end, against the same
 * number of reads through a plain PrismaClient in the same run (baseline).
 */
import { parseArgs } from 'node:util'
import { readReplicas, runInScope } from 'prisma-replica-router'
import { client, emitResult, seededCluster } from './support.ts'

const { values } = parseArgs({ options: { reads: { type: 'string', default: '20000' } } })
const reads = Number(values.reads)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with node --expose-gc (npm run bench:memory does)')

const heap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const { cluster, maxUserId } = await seededCluster(2)
try {
  const plain = client(cluster.replicaUrls[0]!)
  const routed = client(cluster.primaryUrl).$extends(readReplicas({ replicas: cluster.info.replicas.map((r) => client(r.url)) }))
  const workload = async (read: (id: number) => Promise<unknown>, write?: () => Promise<unknown>) => {
    let next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < reads) {
          const i = next++
          await runInScope(async () => {
            if (write && i % 10 === 0) await write()
            await read(1 + (i % maxUserId))
          })
        }
      }),
    )
  }
  const routedRun = () =>
    workload(
      (id) => routed.user.findUnique({ where: { id } }),
      () => routed.note.create({ data: { title: 'm' } }),
    )
  // Warm-up both (the routed one with its writes), then measure the baseline once and the routed workload
  // twice in a row: a leak shows as growth in BOTH routed runs.
  await workload((id) => plain.user.findUnique({ where: { id } }))
  await routedRun()
  const b0 = heap()
  await workload((id) => plain.user.findUnique({ where: { id } }))
  const b1 = heap()
  await routedRun()
  const r1 = heap()
  await routedRun()
  const r2 = heap()
  const perHundredK = (bytes: number) => (bytes / reads) * 100_000
  const result = {
    reads,
    baselineBytes: b1 - b0,
    routedBytes: r1 - b1,
    routedSecondBytes: r2 - r1,
    baselinePer100k: perHundredK(b1 - b0),
    routedPer100k: perHundredK(r1 - b1),
    routedSecondPer100k: perHundredK(r2 - r1),
  }
  console.log(`\nHeap growth after a full GC, ${String(reads)} reads each in its own scope (16 concurrent), every 10th scope writing first\n`)
  console.log('| client | heap growth | per 100k reads |')
  console.log('| --- | ---: | ---: |')
  console.log(`| plain PrismaClient (baseline) | ${(result.baselineBytes / 1024).toFixed(0)} KiB | ${(result.baselinePer100k / 1024).toFixed(0)} KiB |`)
  console.log(`| prisma-replica-router (LSN read-your-writes), run 1 | ${(result.routedBytes / 1024).toFixed(0)} KiB | ${(result.routedPer100k / 1024).toFixed(0)} KiB |`)
  console.log(
    `| prisma-replica-router (LSN read-your-writes), run 2 | ${(result.routedSecondBytes / 1024).toFixed(0)} KiB | ${(result.routedSecondPer100k / 1024).toFixed(0)} KiB |`,
  )
  emitResult('memory', result)
  await Promise.all([plain.$disconnect(), routed.$disconnect()])
} finally {
  await cluster.stop()
}
