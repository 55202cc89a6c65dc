/**
 * bench/overhead — `npm run bench:overhead`. Latency of reads served by a replica through: a plain PrismaClient
 * connected to the replica (the baseline), the same client again as a control (what "no difference" measures as),
 * @prisma/extension-read-replicas 0.5, and prisma-replica-router as built (dist/, what users import) applied to
 * a plain client (the fast read path) and after another extension (the query-extension path). Same
 * replica, same queries; each round runs a block of sequential reads per variant, in an order that rotates
 * from round to round, so that no variant always follows the same one. Measured twice: with Prisma's production
 * error format (`minimal`, no call site recorded per query; the headline and the chart) and its default one.
 */
import { parseArgs } from 'node:util'
import { readReplicas as officialReadReplicas } from '@prisma/extension-read-replicas'
import { readReplicas } from 'prisma-replica-router'
import { client, emitResult, median, percentile, seededCluster } from './support.ts'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '40' }, ops: { type: 'string', default: '100' } } })
const rounds = Number(values.rounds)
const ops = Number(values.ops)

const { cluster, maxUserId } = await seededCluster(1)

/**
 * Prisma's error format decides whether every query records its call site (an `Error` with a stack): it does
 * by default (`colorless`), not with `minimal`, which Prisma picks when NODE_ENV=production. Both are measured.
 */
/** 95% bootstrap confidence interval of the median of `values` (2,000 resamples, fixed seed: reproducible). */
function bootstrapMedianCi(values: readonly number[]): [number, number] {
  let seed = 42
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
  const medians = Array.from({ length: 2000 }, () => median(values.map(() => values[Math.floor(next() * values.length)]!)))
  return [percentile(medians, 2.5), percentile(medians, 97.5)]
}

const modes = {
  'production (errorFormat minimal)': 'minimal',
  'development (default errorFormat)': undefined,
} as const

try {
  const replicaUrl = cluster.replicaUrls[0]!
  const result: Record<string, Record<string, Record<string, { median: number; p99: number }>>> = {}
  console.log(`\n${String(rounds)} rounds × ${String(ops)} sequential reads per variant and query (order rotating), replica on loopback`)
  for (const [mode, errorFormat] of Object.entries(modes)) {
    const c = (url: string) => client(url, errorFormat)
    // One replica client for every variant: same pool, same connection, same server process; what differs is
    // only the code in front of it. (Separate clients differ by up to ~3 % on their own: the connection.)
    const plain = c(replicaUrl)
    const variants = {
      plain,
      'plain (control)': plain,
      official: c(cluster.primaryUrl).$extends(officialReadReplicas({ replicas: [plain] })),
      ours: c(cluster.primaryUrl).$extends(readReplicas({ replicas: [plain] })),
      // readReplicas applied after another extension (here an empty one): reads take the path that honours it.
      'ours (after another extension)': c(cluster.primaryUrl)
        .$extends({ name: 'another' })
        .$extends(readReplicas({ replicas: [plain] })),
    }
    type Name = keyof typeof variants
    const names = Object.keys(variants) as Name[]
    const queries = {
      'findUnique by id': (db: typeof plain, i: number) => db.user.findUnique({ where: { id: 1 + (i % maxUserId) } }),
      'findMany take 20': (db: typeof plain, i: number) => db.post.findMany({ take: 20, skip: i % 50, orderBy: { id: 'asc' } }),
    }
    const samples: Record<string, Record<Name, number[]>> = {}
    // Per round: each variant's median, for the per-round ratios (both variants measured minutes apart at most).
    const roundMedians: Record<string, Record<Name, number[]>> = {}
    for (const query of Object.keys(queries)) {
      samples[query] = Object.fromEntries(names.map((n) => [n, []])) as unknown as Record<Name, number[]>
      roundMedians[query] = Object.fromEntries(names.map((n) => [n, []])) as unknown as Record<Name, number[]>
    }
    // Warm up every pool and code path.
    for (const db of Object.values(variants)) for (const run of Object.values(queries)) for (let i = 0; i < 200; i++) await run(db as typeof plain, i)
    for (let round = 0; round < rounds; round++) {
      for (const [query, run] of Object.entries(queries)) {
        for (let k = 0; k < names.length; k++) {
          const name = names[(round + k) % names.length]!
          const db = variants[name] as typeof plain
          const block: number[] = []
          for (let i = 0; i < ops; i++) {
            const t = performance.now()
            await run(db, i)
            block.push(performance.now() - t)
          }
          samples[query]![name].push(...block)
          roundMedians[query]![name].push(median(block))
        }
      }
    }
    const byMode: Record<string, Record<string, { median: number; p99: number }>> = {}
    result[mode] = byMode
    console.log(`\n### ${mode}\n`)
    console.log('| query | variant | median | p99 | median / plain | per-round ratio, median [95% CI] |')
    console.log('| --- | --- | ---: | ---: | ---: | ---: |')
    for (const [query, byVariant] of Object.entries(samples)) {
      const row: Record<string, { median: number; p99: number }> = {}
      byMode[query] = row
      const base = median(byVariant.plain)
      for (const name of names) {
        const m = median(byVariant[name])
        const p99 = percentile(byVariant[name], 99)
        const ratios = roundMedians[query]![name].map((v, r) => v / roundMedians[query]!.plain[r]!)
        const [low, high] = bootstrapMedianCi(ratios)
        row[name] = { median: m, p99 }
        console.log(
          `| ${query} | ${name} | ${(m * 1000).toFixed(0)} µs | ${(p99 * 1000).toFixed(0)} µs | ${(m / base).toFixed(3)} | ` +
            `${median(ratios).toFixed(3)} [${low.toFixed(3)}, ${high.toFixed(3)}] |`,
        )
      }
    }
    await Promise.all([...new Set(Object.values(variants))].map((db) => db.$disconnect()))
  }
  console.log(
    '\n`plain (control)` is the plain client measured again as if it were another variant: its distance from 1.000 is the noise of this run. ' +
      'Per-round ratio: the variant\'s median over the plain client\'s median in the same round, one value per round; ' +
      'the interval is a bootstrap over rounds. ' +
      'In development mode every query a plain client creates records its call site (a stack trace); prisma-replica-router ' +
      'creates its queries without one (its stack would hold only router and Prisma frames), hence ratios below 1 there.',
  )
  emitResult('overhead', { rounds, ops, result: result['production (errorFormat minimal)'], modes: result })
} finally {
  await cluster.stop()
}
