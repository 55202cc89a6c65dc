/**
 * The differential tester on its own local cluster (primary + 2 streaming replicas), or on PRIMARY_URL +
 * REPLICA_URLS: reads through the router, between random extension stacks, through every entry point, against a
 * plain client with the same extensions (test/support/differential).
 *
 *   npm run fuzz -- --seconds 600 [--seed S] [--runs N] [--cases-per-run 5-25] [--no-shrink]
 *
 * A case is one generated read (a query through an entry point), compared against the plain client; a run is one
 * extension stack on fresh clients, with `--cases-per-run` cases in a row.
 *
 * Prints the runs and cases, the share served by replicas, and on a mismatch fast-check's report (seed,
 * path, the shrunk case) and the two answers. Exits 1 on a mismatch, 2 on a usage or setup error.
 */
import { parseArgs } from 'node:util'
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
  },
})
const seconds = Number(values.seconds)
if (!Number.isFinite(seconds) || seconds <= 0) usage(`--seconds must be a positive number, got ${values.seconds}`)
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
if (!Number.isInteger(seed)) usage(`--seed must be an integer, got ${String(values.seed)}`)
const runs = values.runs === undefined ? Number.MAX_SAFE_INTEGER : Number(values.runs)
if (!Number.isInteger(runs) || runs <= 0) usage(`--runs must be a positive integer, got ${String(values.runs)}`)
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

let failed = false
try {
  const prepared = await prepare(target)
  target = prepared
  if (!prepared.rowLevel) console.log('fuzz: the row-level policy binds no client (the servers ask its role for a password); the row-level ingredient is then a plain batch')
  const started = performance.now()
  console.log(`fuzz: seed ${String(seed)}, ${String(seconds)} s, ${String(minReads)}-${String(maxReads)} cases per run`)
  const result = await runDifferential(target, {
    seed,
    runs,
    minReads,
    maxReads,
    timeLimitMs: seconds * 1000,
    shrink: !values['no-shrink'],
    log: (line) => {
      console.log(`fuzz: ${((performance.now() - started) / 1000).toFixed(0)} s: ${line}`)
    },
  })
  const { stats } = result
  console.log(
    `fuzz: seed ${String(seed)}: ${String(result.runs)} runs, ${String(stats.reads)} cases (${String(stats.onReplicas)} served by replicas, ${String(stats.errors)} errors compared) in ${((performance.now() - started) / 1000).toFixed(0)} s: ${result.failure ? 'MISMATCH' : '0 mismatches'}`,
  )
  if (result.failure) {
    if (result.firstFailure) console.log(`fuzz: first failure after ${String(result.firstFailure.cases)} cases (run ${String(result.firstFailure.runs)})`)
    console.log(result.failure)
    failed = true
  }
} finally {
  await cluster?.stop()
}
process.exit(failed ? 1 : 0)
