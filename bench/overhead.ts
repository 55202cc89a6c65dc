/**
 * bench/overhead — `npm run bench:overhead`. Latency of reads served by a replica through: a plain PrismaClient
 * connected to the replica (the baseline), the same client again as a control (what "no difference" measures as),
 * @prisma/extension-read-replicas 0.5, and prisma-replica-router as built (dist/, what users import) applied to
 * a plain client (the fast read path) and after another extension (the query-extension path).
 *
 * Each variant is compared with the plain client in a process of its own (forked, bench/overhead-run.ts), on the
 * same replica, interleaved read by read in an order shuffled per iteration: A B B A A B …, the baseline measured
 * in the same process, at the same moments. An application runs one of these libraries, not both: in one process,
 * each library's calls through Prisma's shared runtime slow the other's (measured, and shown by the last table,
 * all variants in one process). Measured with Prisma's production error format (`minimal`, no call site recorded
 * per query; the headline and the chart) and its default one.
 */
import { fork } from 'node:child_process'
import { parseArgs } from 'node:util'
import type { RunRequest, RunResult, Variant } from './overhead-run.ts'
import { emitResult, median, percentile, seededCluster } from './support.ts'

const { values } = parseArgs({
  options: { iterations: { type: 'string', default: '8000' }, rounds: { type: 'string', default: '20' } },
})
const iterations = Number(values.iterations)
const rounds = Number(values.rounds)

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

function runProcess(request: RunRequest): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./overhead-run.ts', import.meta.url), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let result: RunResult | undefined
    child.once('message', (message) => (result = message as RunResult))
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code === 0 && result) resolve(result)
      else reject(new Error(`bench/overhead-run.ts exited with ${String(code)}`))
    })
    child.send(request)
  })
}

interface Row {
  median: number
  p99: number
  baseline: number
  ratio: number
  roundRatio: number
  ci: [number, number]
}

/** The rows of `variant` against the plain client measured in the same process. */
function rows(result: RunResult, variant: Variant): Record<string, Row> {
  return Object.fromEntries(
    Object.entries(result).map(([query, byVariant]) => {
      const own = byVariant[variant]!
      const plain = byVariant.plain!
      const ratios = own.roundMedians.map((m, r) => m / plain.roundMedians[r]!)
      return [
        query,
        { median: own.median, p99: own.p99, baseline: plain.median, ratio: own.median / plain.median, roundRatio: median(ratios), ci: bootstrapMedianCi(ratios) },
      ]
    }),
  )
}

const µs = (ms: number) => `${(ms * 1000).toFixed(0)} µs`
const table = (entries: [Variant, Record<string, Row>][]) => {
  const lines = [
    '| query | variant | median | p99 | plain client, same process | median / plain | per-round ratio, median [95% CI] |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ]
  const queries = Object.keys(entries[0]![1])
  for (const query of queries) {
    for (const [variant, byQuery] of entries) {
      const row = byQuery[query]!
      lines.push(
        `| ${query} | ${variant} | ${µs(row.median)} | ${µs(row.p99)} | ${µs(row.baseline)} | ${row.ratio.toFixed(3)} | ` +
          `${row.roundRatio.toFixed(3)} [${row.ci[0].toFixed(3)}, ${row.ci[1].toFixed(3)}] |`,
      )
    }
  }
  return lines.join('\n')
}

const compared: Variant[] = ['plain (control)', 'official', 'ours', 'ours (after another extension)']
const modes = { 'production (errorFormat minimal)': 'minimal', 'development (default errorFormat)': undefined } as const

const { cluster, maxUserId } = await seededCluster(1)
try {
  const base = { primaryUrl: cluster.primaryUrl, replicaUrl: cluster.replicaUrls[0]!, maxUserId, rounds }
  console.log(
    `\nEach variant against the plain client in its own process, interleaved read by read (order shuffled per iteration), ` +
      `${String(iterations)} reads of each per query in ${String(rounds)} rounds, replica on loopback`,
  )
  const byMode: Record<string, Partial<Record<Variant, Record<string, Row>>>> = {}
  for (const [mode, errorFormat] of Object.entries(modes)) {
    const results: Partial<Record<Variant, Record<string, Row>>> = {}
    for (const variant of compared) {
      const result = await runProcess({ ...base, errorFormat, iterations, variants: ['plain', variant] })
      results[variant] = rows(result, variant)
    }
    byMode[mode] = results
    console.log(`\n### ${mode}\n`)
    console.log(table(compared.map((v) => [v, results[v]!])))
  }
  // For comparison: the five variants in one process (production error format), interleaved the same way.
  const together = await runProcess({
    ...base,
    errorFormat: 'minimal',
    iterations: Math.floor(iterations / 2),
    variants: ['plain', ...compared],
  })
  console.log('\n### All variants in one process (production error format)\n')
  console.log(table(compared.map((v) => [v, rows(together, v)])))
  console.log(
    '\n`plain (control)` is the plain client compared with itself: its distance from 1.000 is the noise of this run. ' +
      'Per-round ratio: the variant\'s median over the plain client\'s median in the same round of the same process, ' +
      'one value per round; the interval is a bootstrap over rounds. ' +
      'In one process the libraries slow each other (last table against the first): they call through the same ' +
      'Prisma runtime code, which then serves more kinds of calls. An application runs one of them, hence one ' +
      'process per comparison. ' +
      'In development mode every query a plain client creates records its call site (a stack trace); prisma-replica-router ' +
      'creates its queries without one (its stack would hold only router and Prisma frames), hence ratios below 1 there.',
  )
  // The chart: each variant's median and the plain client's median in the same process (the plain bar: the
  // control process's plain client).
  const production = byMode['production (errorFormat minimal)']!
  const chart = Object.fromEntries(
    Object.keys(production.ours!).map((query) => [
      query,
      {
        plain: { median: production['plain (control)']![query]!.baseline, baseline: production['plain (control)']![query]!.baseline },
        ...Object.fromEntries(
          compared.filter((v) => v !== 'plain (control)').map((v) => [v, { median: production[v]![query]!.median, baseline: production[v]![query]!.baseline }]),
        ),
      },
    ]),
  )
  emitResult('overhead', { iterations, rounds, result: chart, modes: byMode })
} finally {
  await cluster.stop()
}
