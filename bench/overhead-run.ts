/**
 * One process of bench/overhead.ts (forked by it, never run alone): builds the variants it is given on the
 * cluster it is given, and measures them interleaved read by read — each iteration runs one read of every
 * variant, in an order shuffled per iteration — so that whatever the machine does meanwhile falls on all of them
 * alike. Sends back every variant's median, p99 and per-round medians for each query.
 */
import { readReplicas as officialReadReplicas } from '@prisma/extension-read-replicas'
import { readReplicas } from 'prisma-replica-router'
import { client, median, percentile, seededRandom } from './support.ts'

export type Variant =
  | 'plain'
  | 'plain (control)'
  | 'official'
  | 'ours'
  | 'ours (after another extension)'
  | 'plain (with a query extension)'
  | 'ours (after a query extension)'
  | 'ours (before a query extension)'

/** The variants measured against the plain client with the same query extension, not the bare plain client. */
export const WITH_QUERY_EXTENSION: Partial<Record<Variant, Variant>> = {
  'ours (after a query extension)': 'plain (with a query extension)',
  'ours (before a query extension)': 'plain (with a query extension)',
}

export interface RunRequest {
  readonly primaryUrl: string
  readonly replicaUrl: string
  readonly maxUserId: number
  readonly variants: readonly Variant[]
  readonly errorFormat: 'minimal' | undefined
  readonly iterations: number
  readonly rounds: number
  /** Reads of every variant and query before measuring. */
  readonly warmUp: number
  /** Seeds the shuffling: each process its own order. */
  readonly seed: number
}

/** Per query, per variant: median and p99 (ms) of every read, and the median of each round. */
export type RunResult = Record<string, Partial<Record<Variant, { median: number; p99: number; roundMedians: number[] }>>>

async function measure(request: RunRequest): Promise<RunResult> {
  const { primaryUrl, replicaUrl, maxUserId, errorFormat, iterations, rounds } = request
  const c = (url: string) => client(url, errorFormat)
  // One replica client for every variant: same pool, same connection, same server process; what differs is
  // only the code in front of it.
  const plain = c(replicaUrl)
  const passThrough = {
    name: 'pass-through',
    query: { $allOperations: ({ args, query }: { args: unknown; query: (args: unknown) => Promise<unknown> }) => query(args) },
  }
  const plainWithQueryExtension = plain.$extends(passThrough) as unknown as typeof plain
  const build: Record<Variant, () => typeof plain> = {
    plain: () => plain,
    'plain (control)': () => plain,
    official: () => c(primaryUrl).$extends(officialReadReplicas({ replicas: [plain] })) as unknown as typeof plain,
    ours: () => c(primaryUrl).$extends(readReplicas({ replicas: [plain] })) as unknown as typeof plain,
    // readReplicas applied after another extension that changes no read (here an empty one): the fast path.
    'ours (after another extension)': () =>
      c(primaryUrl)
        .$extends({ name: 'another' })
        .$extends(readReplicas({ replicas: [plain] })) as unknown as typeof plain,
    // A query extension that every read must pass through (a pass-through `$allOperations`, as a soft-delete or
    // tenant filter is): the plain client with it is the baseline of the two variants of ours with it.
    'plain (with a query extension)': () => plainWithQueryExtension,
    'ours (after a query extension)': () =>
      c(primaryUrl)
        .$extends(passThrough)
        .$extends(readReplicas({ replicas: [plain] })) as unknown as typeof plain,
    'ours (before a query extension)': () =>
      c(primaryUrl)
        .$extends(readReplicas({ replicas: [plain] }))
        .$extends(passThrough) as unknown as typeof plain,
  }
  const variants = request.variants.map((name) => ({ name, db: build[name]() }))
  const queries = {
    'findUnique by id': (db: typeof plain, i: number) => db.user.findUnique({ where: { id: 1 + (i % maxUserId) } }),
    'findMany take 20': (db: typeof plain, i: number) => db.post.findMany({ take: 20, skip: i % 50, orderBy: { id: 'asc' } }),
  }
  // Warm up every pool and code path (see WARM_UP in bench/overhead.ts).
  for (const { db } of variants) for (const run of Object.values(queries)) for (let i = 0; i < request.warmUp; i++) await run(db, i)
  const random = seededRandom(request.seed)
  const result: RunResult = {}
  const perRound = Math.floor(iterations / rounds)
  for (const [query, run] of Object.entries(queries)) {
    const samples = variants.map(() => new Float64Array(perRound * rounds))
    const order = variants.map((_, k) => k)
    for (let i = 0; i < perRound * rounds; i++) {
      for (let k = order.length - 1; k > 0; k--) {
        const j = Math.floor(random() * (k + 1))
        ;[order[k], order[j]] = [order[j]!, order[k]!]
      }
      for (const k of order) {
        const t = performance.now()
        await run(variants[k]!.db, i)
        samples[k]![i] = performance.now() - t
      }
    }
    const byVariant: RunResult[string] = {}
    for (const [k, { name }] of variants.entries()) {
      const all = [...samples[k]!]
      byVariant[name] = {
        median: median(all),
        p99: percentile(all, 99),
        roundMedians: Array.from({ length: rounds }, (_, r) => median(all.slice(r * perRound, (r + 1) * perRound))),
      }
    }
    result[query] = byVariant
  }
  await Promise.all([...new Set(variants.map((v) => v.db))].map((db) => db.$disconnect()))
  return result
}

process.once('message', (request: RunRequest) => {
  measure(request).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    },
  )
})
