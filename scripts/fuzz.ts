/**
 * The differential tester on its own local cluster (primary + 2 streaming replicas), or on PRIMARY_URL +
 * REPLICA_URLS: reads through the router, between random extension stacks, through every entry point, against a
 * plain client with the same extensions (test/support/differential).
 *
 *   npm run fuzz -- --seconds 600 [--seed S] [--runs N] [--cases-per-run 5-25] [--no-shrink] [--jobs N]
 *
 * A case is one generated read (a query through an entry point), compared against the plain client; a run is one
 * extension stack on fresh clients, with `--cases-per-run` cases in a row.
 *
 * `--jobs N` (1-8, default 1): N jobs at once, seeds S to S+N-1, each on a copy of the seeded database
 * (`prr_fuzz_job_<i>`, created with `CREATE DATABASE … TEMPLATE` on the primary: with PRIMARY_URL, on yours),
 * `--runs` each; a job spends most of its time waiting on round trips, so several share two cores well.
 *
 * Prints the runs and cases, the share served by replicas, and on a mismatch fast-check's report (seed,
 * path, the shrunk case) and the two answers. Exits 1 on a mismatch, 2 on a usage or setup error.
 */
import { parseArgs } from 'node:util'
import pg from 'pg'
import { startLocalCluster, waitForReplay, type LocalCluster } from '../src/testing/local-cluster.ts'
import { prismaMigrateDeploy } from '../src/testing/prisma-migrate.ts'
import { prepare, runDifferential, type DifferentialTarget } from '../test/support/differential/run.ts'

function usage(message: string): never {
  console.error(`fuzz: ${message}`)
  process.exit(2)
}

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    runs: { type: 'string' },
    'cases-per-run': { type: 'string', default: '5-25' },
    'no-shrink': { type: 'boolean', default: false },
    jobs: { type: 'string', default: '1' },
  },
})
const seconds = Number(values.seconds)
if (!Number.isFinite(seconds) || seconds <= 0) usage(`--seconds must be a positive number, got ${values.seconds}`)
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
if (!Number.isInteger(seed)) usage(`--seed must be an integer, got ${String(values.seed)}`)
const runs = values.runs === undefined ? Number.MAX_SAFE_INTEGER : Number(values.runs)
if (!Number.isInteger(runs) || runs <= 0) usage(`--runs must be a positive integer, got ${String(values.runs)}`)
const jobs = Number(values.jobs)
if (!Number.isInteger(jobs) || jobs < 1 || jobs > 8) usage(`--jobs must be an integer from 1 to 8, got ${values.jobs}`)
const [minReads, maxReads] = values['cases-per-run'].split('-').map(Number)
if (!Number.isInteger(minReads) || !Number.isInteger(maxReads) || (minReads ?? 0) < 1 || (maxReads ?? 0) < (minReads ?? 0))
  usage(`--cases-per-run must be MIN-MAX, got ${values['cases-per-run']}`)

let cluster: LocalCluster | undefined
let target: DifferentialTarget
if (process.env.PRIMARY_URL) {
  const replicas = (process.env.REPLICA_URLS ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean)
    .map((url, i) => ({ name: `replica-${String(i + 1)}`, url }))
  if (replicas.length === 0) usage('PRIMARY_URL is set but REPLICA_URLS is empty')
  const primaryUrl = process.env.PRIMARY_URL
  target = { primaryUrl, replicas, waitForReplication: () => waitForReplay(primaryUrl, replicas) }
} else {
  console.log('fuzz: starting a local primary + 2 streaming replicas')
  cluster = await startLocalCluster({ replicas: 2 })
  await prismaMigrateDeploy(cluster.primaryUrl)
  const c = cluster
  target = { primaryUrl: c.primaryUrl, replicas: c.info.replicas.map((r) => ({ name: r.name, url: r.url })), waitForReplication: () => c.waitForReplication() }
}

/**
 * `--jobs N`: N copies of the seeded database (`CREATE DATABASE … TEMPLATE`, replicated as any write), one job
 * each (seeds S, S+1, …), on the same servers: one job waits on round trips most of the time.
 */
async function jobTargets(prepared: DifferentialTarget, admin: DifferentialTarget, n: number): Promise<DifferentialTarget[]> {
  if (n === 1) return [prepared]
  const database = decodeURIComponent(new URL(admin.primaryUrl).pathname.slice(1))
  const withDatabase = (url: string, name: string) => {
    const parsed = new URL(url)
    parsed.pathname = `/${name}`
    return parsed.toString()
  }
  const names = Array.from({ length: n }, (_, i) => `prr_fuzz_job_${String(i + 1)}`)
  const client = new pg.Client({ connectionString: withDatabase(admin.primaryUrl, 'postgres') })
  await client.connect()
  try {
    for (const name of names) {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await client.query(`CREATE DATABASE ${name} TEMPLATE "${database.replaceAll('"', '""')}"`)
    }
  } finally {
    await client.end()
  }
  await admin.waitForReplication()
  return names.map((name) => ({
    primaryUrl: withDatabase(prepared.primaryUrl, name),
    replicas: prepared.replicas.map((r) => ({ name: r.name, url: withDatabase(r.url, name) })),
    waitForReplication: prepared.waitForReplication,
  }))
}

let failed = false
try {
  const admin = target
  const prepared = await prepare(target)
  if (!prepared.rowLevel) console.log('fuzz: the row-level policy binds no client (the servers ask its role for a password); the row-level ingredient is then a plain batch')
  const targets = await jobTargets(prepared, admin, jobs)
  const started = performance.now()
  console.log(
    `fuzz: seed ${String(seed)}, ${String(seconds)} s, ${String(minReads)}-${String(maxReads)} cases per run${jobs > 1 ? `, ${String(jobs)} jobs (seeds ${String(seed)} to ${String(seed + jobs - 1)}, a database each)` : ''}`,
  )
  const results = await Promise.all(
    targets.map((t, i) =>
      runDifferential(t, {
        seed: seed + i,
        runs,
        minReads,
        maxReads,
        timeLimitMs: seconds * 1000,
        shrink: !values['no-shrink'],
        log: (line) => {
          console.log(`fuzz: ${((performance.now() - started) / 1000).toFixed(0)} s: ${jobs > 1 ? `job ${String(i + 1)} (seed ${String(seed + i)}): ` : ''}${line}`)
        },
      }),
    ),
  )
  const sum = (pick: (r: (typeof results)[number]) => number) => results.reduce((n, r) => n + pick(r), 0)
  const failures = results.filter((r) => r.failure)
  console.log(
    `fuzz: seed ${String(seed)}: ${String(sum((r) => r.runs))} runs, ${String(sum((r) => r.stats.reads))} cases (${String(sum((r) => r.stats.onReplicas))} served by replicas, ${String(sum((r) => r.stats.errors))} errors compared${jobs > 1 ? `; ${String(jobs)} jobs, seeds ${String(seed)} to ${String(seed + jobs - 1)}` : ''}) in ${((performance.now() - started) / 1000).toFixed(0)} s: ${failures.length > 0 ? 'MISMATCH' : '0 mismatches'}`,
  )
  for (const result of failures) {
    if (result.firstFailure)
      console.log(`fuzz: first failure after ${String(result.firstFailure.cases)} cases (run ${String(result.firstFailure.runs)}) of seed ${String(result.seed)}`)
    console.log(result.failure)
    failed = true
  }
} finally {
  await cluster?.stop()
}
process.exit(failed ? 1 : 0)
