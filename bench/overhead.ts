/**
 * bench/overhead — `npm run bench:overhead`. Latency of reads served by a replica through: a plain PrismaClient
 * connected to the replica (the baseline), the same client again as a control (what "no difference" measures as),
 * @prisma/extension-read-replicas 0.5, and prisma-replica-router as built (dist/, what users import) applied to
 * a plain client (the fast read path) and after another extension (the query-extension path).
 *
 * Each variant is compared with the plain client in processes of its own (forked, bench/overhead-run.ts; several
 * per comparison, as processes differ), on the same replica, interleaved read by read in an order shuffled per
 * iteration: A B B A A B …, the baseline measured in the same process, at the same moments. An application runs
 * one of these libraries, not both: the last table puts the plain client, the official extension and ours in
 * one process, where both libraries measure slower. Measured with Prisma's production error format (`minimal`,
 * no call site recorded per query; the headline and the chart) and its default one.
 */
import { fork } from 'node:child_process'
import { parseArgs } from 'node:util'
import { WITH_QUERY_EXTENSION, type RunRequest, type RunResult, type Variant } from './overhead-run.ts'
import { emitResult, median, percentile, seededCluster, seededRandom } from './support.ts'

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '10' },
    processes: { type: 'string', default: '3' },
  },
})
const iterations = Number(values.iterations)
const rounds = Number(values.rounds)
const processes = Number(values.processes)

/**
 * Reads of every variant and query before measuring: the steady state of a running application. Measured with
 * 1,000, the router's findUnique ratio started near 1.04 and settled (~1.02) only some 3,000 reads later, while
 * its code was being optimised; the plain client's shorter path settles sooner.
 */
const WARM_UP = 4000

/** 95% bootstrap confidence interval of the median of `values` (2,000 resamples, fixed seed: reproducible). */
function bootstrapMedianCi(values: readonly number[]): [number, number] {
  const next = seededRandom(42)
  const medians = Array.from({ length: 2000 }, () => median(values.map(() => values[Math.floor(next() * values.length)]!)))
  return [percentile(medians, 2.5), percentile(medians, 97.5)]
}

let processCount = 0

/** Runs one bench/overhead-run.ts process (each with its own shuffling seed) and returns what it measured. */
function runProcess(request: Omit<RunRequest, 'seed'>): Promise<RunResult> {
  const seed = ++processCount
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./overhead-run.ts', import.meta.url), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let result: RunResult | undefined
    child.once('message', (message) => (result = message as RunResult))
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code === 0 && result) resolve(result)
      else reject(new Error(`bench/overhead-run.ts exited with ${String(code)}`))
    })
    child.send({ ...request, seed } satisfies RunRequest)
  })
}

interface Row {
  median: number
  p99: number
  baseline: number
  /** Median over processes of the variant's median / the plain client's median in that process. */
  ratio: number
  /** Lowest and highest of those per-process ratios. */
  spread: [number, number]
  roundRatio: number
  ci: [number, number]
}

/** The baseline of `variant`: the plain client, or the plain client with the same query extension. */
const baselineOf = (variant: Variant): Variant => WITH_QUERY_EXTENSION[variant] ?? 'plain'

/** The rows of `variant` against its baseline measured in the same process, over every process run. */
function rows(results: readonly RunResult[], variant: Variant): Record<string, Row> {
  return Object.fromEntries(
    Object.keys(results[0]!).map((query) => {
      const runs = results.map((result) => ({ own: result[query]![variant]!, plain: result[query]![baselineOf(variant)]! }))
      const ratios = runs.map(({ own, plain }) => own.median / plain.median)
      const roundRatios = runs.flatMap(({ own, plain }) => own.roundMedians.map((m, r) => m / plain.roundMedians[r]!))
      return [
        query,
        {
          median: median(runs.map((r) => r.own.median)),
          p99: median(runs.map((r) => r.own.p99)),
          baseline: median(runs.map((r) => r.plain.median)),
          ratio: median(ratios),
          spread: [Math.min(...ratios), Math.max(...ratios)],
          roundRatio: median(roundRatios),
          ci: bootstrapMedianCi(roundRatios),
        },
      ]
    }),
  )
}

const µs = (ms: number) => `${(ms * 1000).toFixed(0)} µs`
const table = (entries: [Variant, Record<string, Row>][]) => {
  const lines = [
    '| query | variant | median | p99 | baseline, same process | median / baseline | lowest – highest process | per-round ratio, median [95% CI] |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  const queries = Object.keys(entries[0]![1])
  for (const query of queries) {
    for (const [variant, byQuery] of entries) {
      const row = byQuery[query]!
      lines.push(
        `| ${query} | ${variant} | ${µs(row.median)} | ${µs(row.p99)} | ${µs(row.baseline)} | ${row.ratio.toFixed(3)} | ` +
          `${row.spread[0].toFixed(3)} – ${row.spread[1].toFixed(3)} | ` +
          `${row.roundRatio.toFixed(3)} [${row.ci[0].toFixed(3)}, ${row.ci[1].toFixed(3)}] |`,
      )
    }
  }
  return lines.join('\n')
}

const compared: Variant[] = [
  'plain (control)',
  'official',
  'ours',
  'ours (after another extension)',
  'plain (with a query extension)',
  'ours (after a query extension)',
  'ours (before a query extension)',
]
const modes = { 'production (errorFormat minimal)': 'minimal', 'development (default errorFormat)': undefined } as const

const { cluster, maxUserId } = await seededCluster(1)
try {
  const base = { primaryUrl: cluster.primaryUrl, replicaUrl: cluster.replicaUrls[0]!, maxUserId, rounds, warmUp: WARM_UP }
  console.log(
    `\nEach variant against the plain client in ${String(processes)} processes of its own, interleaved read by read ` +
      `(order shuffled per iteration), ${String(iterations)} reads of each per query and process in ${String(rounds)} rounds ` +
      `after ${String(WARM_UP)} reads of each to warm up, replica on loopback`,
  )
  const byMode: Record<string, Partial<Record<Variant, Record<string, Row>>>> = {}
  for (const [mode, errorFormat] of Object.entries(modes)) {
    const results = new Map<Variant, RunResult[]>(compared.map((v) => [v, []]))
    // One process per comparison in turn, `processes` times over, the order reversed every other time.
    for (let p = 0; p < processes; p++) {
      for (const variant of p % 2 === 0 ? compared : [...compared].reverse()) {
        results.get(variant)!.push(await runProcess({ ...base, errorFormat, iterations, variants: [...new Set([baselineOf(variant), variant])] }))
      }
    }
    const byVariant = Object.fromEntries(compared.map((v) => [v, rows(results.get(v)!, v)])) as Record<Variant, Record<string, Row>>
    byMode[mode] = byVariant
    console.log(`\n### ${mode}\n`)
    console.log(table(compared.map((v) => [v, byVariant[v]])))
  }
  // For comparison: the plain client, the official extension and ours in one process (production error format).
  const together: Variant[] = ['official', 'ours']
  const inOne: RunResult[] = []
  for (let p = 0; p < processes; p++) {
    inOne.push(await runProcess({ ...base, errorFormat: 'minimal', iterations, variants: ['plain', ...together] }))
  }
  console.log('\n### The plain client, the official extension and ours in one process (production error format)\n')
  console.log(table(together.map((v) => [v, rows(inOne, v)])))
  console.log(
    '\n`plain (control)` is the plain client compared with itself: its distance from 1.000 is the noise of this run. ' +
      'The baseline is the plain client, except for the variants of ours with a query extension: the plain client with the ' +
      'same extension (a pass-through `$allOperations`), whose own cost against the plain client is the row `plain (with a query extension)`. ' +
      "median / plain: the median over processes of each process's ratio, with the lowest and highest of them. " +
      "Per-round ratio: the variant's median over the plain client's median in the same round of the same process, " +
      'one value per round of every process; the interval is a bootstrap over those rounds. ' +
      'With both libraries in one process, both measure slower than against the plain client alone (last table ' +
      'against the first): they run through the same Prisma runtime code, which then serves more kinds of calls. ' +
      'An application runs one of them, hence processes of their own. ' +
      "prisma-replica-router runs a replica's row reads as Prisma's request on the replica's client, without that client's " +
      'own request pipeline (its promise, span wrapper, async resource and extension pass; with Prisma tracing on, it ' +
      'runs them through the model method instead, for the span), hence ratios below 1. In development mode (the default ' +
      'error format) every query records its call site (a stack trace) for the location its errors print; there the router ' +
      "sends a replica's reads through the replica client's model method, which records it as a plain client does (the " +
      "errors read the same: the differential tester compares them), and costs what a client extension's call does.",
  )
  // The chart: each variant's median, the plain client's median in its processes, and the ratio of the table
  // (the plain bar: the plain client of the control processes).
  const production = byMode['production (errorFormat minimal)']!
  const chart = Object.fromEntries(
    Object.keys(production.ours!).map((query) => [
      query,
      {
        plain: { median: production['plain (control)']![query]!.baseline, baseline: production['plain (control)']![query]!.baseline, ratio: 1 },
        ...Object.fromEntries(
          compared
            .filter((v) => v !== 'plain (control)')
            .map((v) => {
              const { median: m, baseline, ratio } = production[v]![query]!
              return [v, { median: m, baseline, ratio }]
            }),
        ),
      },
    ]),
  )
  emitResult('overhead', { iterations, rounds, processes, result: chart, modes: byMode })
} finally {
  await cluster.stop()
}
