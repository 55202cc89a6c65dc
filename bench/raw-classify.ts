/**
 * bench/raw-classify — `npm run bench:raw-classify`. What `raw: 'classify'` costs a raw query: loading the parser
 * (once per process), classifying a statement not seen before (PostgreSQL's parser, libpg-query) and one seen
 * before (the verdict cache), per statement shape; against, in the same run, a raw read's round trip on a
 * replica of a local cluster with a plain client, and the same read through the router with `raw: 'classify'`.
 * Per-op times are medians of batches (one hrtime pair per batch).
 */
import { readReplicas } from '../src/index.ts'
import { SqlClassifier } from '../src/raw-sql/classify-sql.ts'
import { benchCluster, emitResult, median } from './support.ts'

const STATEMENTS: Record<string, string> = {
  'short SELECT': 'SELECT id, title FROM "Note" WHERE id = $1',
  'join + aggregate':
    'SELECT u.id, count(p.id)::int AS posts FROM "User" u LEFT JOIN "Post" p ON p."authorId" = u.id WHERE u.email LIKE $1 GROUP BY u.id ORDER BY posts DESC LIMIT 20',
  'CTE + window': 'WITH ranked AS (SELECT id, "authorId", row_number() OVER (PARTITION BY "authorId" ORDER BY id DESC) AS rn FROM "Post") SELECT * FROM ranked WHERE rn <= $1',
  'report (2 KB)': `SELECT ${Array.from({ length: 40 }, (_, i) => `sum(CASE WHEN p.id % 40 = ${String(i)} THEN 1 ELSE 0 END) AS c${String(i)}`).join(', ')} FROM "Post" p JOIN "User" u ON u.id = p."authorId" WHERE u.id > $1`,
  'write in disguise': 'WITH d AS (DELETE FROM "Note" WHERE id = $1 RETURNING id) SELECT count(*) FROM d',
}

/** Median µs per call of `fn` over `batches` batches of `size` calls. */
function perCall(fn: () => void, size = 200, batches = 100): number {
  const times: number[] = []
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < size; i++) fn()
    times.push(Number(process.hrtime.bigint() - start) / 1000 / size)
  }
  return median(times)
}

const loadStart = performance.now()
const warm = new SqlClassifier()
await warm.load()
const loadMs = performance.now() - loadStart

const rows: { shape: string; uncachedUs: number; cachedUs: number }[] = []
for (const [shape, sql] of Object.entries(STATEMENTS)) {
  const uncached = new SqlClassifier({ cacheEntries: 0 })
  await uncached.load()
  const cached = new SqlClassifier()
  await cached.load()
  cached.classify(sql)
  rows.push({ shape, uncachedUs: perCall(() => uncached.classify(sql), 20, 100), cachedUs: perCall(() => cached.classify(sql)) })
}

// The same run's baseline: a raw read round trip on a replica, plain client vs the router with raw: 'classify'.
const { cluster, client, replica } = await benchCluster('postgresql')
let plainUs: number
let routedUs: number
try {
  const [first] = cluster.info.replicas
  if (!first) throw new Error('no replica')
  const plain = client(first.url)
  // One replica only, so that both measure the same server.
  const routed = client(cluster.primaryUrl).$extends(readReplicas({ replicas: [replica(first)], raw: 'classify' }))
  const sql = STATEMENTS['short SELECT'] ?? ''
  const timeOf = async (run: () => Promise<unknown>) => {
    const times: number[] = []
    for (let i = 0; i < 3000; i++) {
      const start = process.hrtime.bigint()
      await run()
      if (i >= 500) times.push(Number(process.hrtime.bigint() - start) / 1000)
    }
    return median(times)
  }
  // Interleaved rounds, so that drift hits both alike.
  const plainRounds: number[] = []
  const routedRounds: number[] = []
  for (let round = 0; round < 3; round++) {
    plainRounds.push(await timeOf(() => plain.$queryRawUnsafe(sql, 1)))
    routedRounds.push(await timeOf(() => routed.$queryRawUnsafe(sql, 1)))
  }
  plainUs = median(plainRounds)
  routedUs = median(routedRounds)
  await Promise.all([plain.$disconnect(), routed.$disconnect()])
} finally {
  await cluster.stop()
}

console.log(`\nLoading libpg-query (WebAssembly, once per process): ${loadMs.toFixed(0)} ms\n`)
console.log(
  `Baseline, same run: a raw read on a replica (plain client, loopback): ${plainUs.toFixed(0)} µs p50; through the router with raw: 'classify': ${routedUs.toFixed(0)} µs (${(routedUs / plainUs).toFixed(3)}×)\n`,
)
console.log('| statement | length | classify, not seen before | share of the round trip | classify, cached | share of the round trip |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
for (const row of rows) {
  const length = (STATEMENTS[row.shape] ?? '').length
  console.log(
    `| ${row.shape} | ${String(length)} | ${row.uncachedUs.toFixed(1)} µs | ${((100 * row.uncachedUs) / plainUs).toFixed(1)}% | ${row.cachedUs.toFixed(2)} µs | ${((100 * row.cachedUs) / plainUs).toFixed(2)}% |`,
  )
}
emitResult('raw-classify', { loadMs, plainUs, routedUs, rows })
