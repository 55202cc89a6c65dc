/**
 * Soak run of the session-guarantee checker on its own local cluster (primary + 2 streaming replicas):
 *
 *   npm run soak -- --seconds 600 [--seed S] [--ryw-only] [--sessions N] [--without pooled,primary-tx,sync-off,tx-reads,stacks]
 *                   [--detect-pooled]   (the pooled entry left to the router's detection instead of `pooled: true`)
 *   npm run soak -- --seconds 120 --only defect-2     (only the workload/faults that can trigger that defect)
 *   npm run soak -- --seconds 120 --driver neon       (every client built with @prisma/adapter-neon, through a WebSocket proxy)
 *   npm run soak -- --seconds 120 --poolers pgbouncer (every server behind a real PgBouncer in transaction mode; the pooled entry one over two standbys)
 *
 * Each of the two router instances sits in a seeded random extension stack (test/support/session-checker/stacks.ts:
 * writes through a client an extension captured, a tenant filter, a computed field, reads through a captured
 * client, writes in a batch of the captured client); `--without stacks`: none. At the end each row's
 * version on the primary is checked against the writes sent to it (a write run twice, or lost).
 *
 * Prints reads, writes, faults injected by kind, replica share, violations (the first few in full, with their
 * minimal histories) and the time to the first violation. Exits 1 on any violation (with --ryw-only, on a
 * read-your-writes, extensions, failed-read or writes-once one only: for a router built without monotonic reads), 2 on a usage or setup error.
 */
import { parseArgs } from 'node:util'
import { startLocalCluster, type LocalCluster } from '../src/testing/local-cluster.ts'
import { prismaMigrateDeploy } from '../src/testing/prisma-migrate.ts'
import { startWebSocketProxy, type WebSocketProxy } from '../src/testing/websocket-proxy.ts'
import { useWebSocketProxy } from '../test/support/driver.ts'
import { DEFAULT_FAULTS } from '../test/support/session-checker/faults.ts'
import { report, runSessionCheck } from '../test/support/session-checker/run.ts'
import { DEFAULT_WORKLOAD } from '../test/support/session-checker/workload.ts'

const FEATURES = ['pooled', 'primary-tx', 'sync-off', 'tx-reads', 'stacks'] as const
type Feature = (typeof FEATURES)[number]
/** The features each known defect needs; `--only` turns the others off, so violations are attributable. */
const ONLY: Record<string, readonly Feature[]> = {
  'defect-1': ['tx-reads'],
  'defect-2': ['primary-tx'],
  'defect-3': ['sync-off'],
  'defect-5': ['pooled'],
}

function usage(message: string): never {
  console.error(`soak: ${message}`)
  process.exit(2)
}

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    seed: { type: 'string' },
    'ryw-only': { type: 'boolean', default: false },
    without: { type: 'string', default: '' },
    only: { type: 'string' },
    full: { type: 'string', default: '3' },
    sessions: { type: 'string' },
    'detect-pooled': { type: 'boolean', default: false },
    driver: { type: 'string', default: 'pg' },
    poolers: { type: 'string', default: 'none' },
  },
})
if (values.poolers !== 'none' && values.poolers !== 'pgbouncer') usage(`--poolers must be none or pgbouncer, got ${values.poolers}`)
if (values.driver !== 'pg' && values.driver !== 'neon') usage(`--driver must be pg or neon, got ${values.driver}`)
const seconds = Number(values.seconds)
if (!Number.isFinite(seconds) || seconds <= 0) usage(`--seconds must be a positive number, got ${values.seconds}`)
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
if (!Number.isInteger(seed)) usage(`--seed must be an integer, got ${String(values.seed)}`)
let without = new Set(
  values.without
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
)
for (const f of without) if (!(FEATURES as readonly string[]).includes(f)) usage(`unknown feature ${f} in --without (known: ${FEATURES.join(', ')})`)
if (values.only !== undefined) {
  const keep = ONLY[values.only]
  if (!keep) usage(`unknown --only ${values.only} (known: ${Object.keys(ONLY).join(', ')})`)
  without = new Set(FEATURES.filter((f) => !keep.includes(f)))
}
const off = (f: Feature) => without.has(f)

let cluster: LocalCluster | undefined
let proxy: WebSocketProxy | undefined
let exitCode = 0
try {
  console.info(
    `soak: seed=${String(seed)} seconds=${String(seconds)} driver=${values.driver} poolers=${values.poolers} without=[${[...without].join(',')}] starting a local cluster…`,
  )
  cluster = await startLocalCluster({ replicas: 2 })
  if (values.driver === 'neon') {
    process.env.TEST_DRIVER = 'neon' // the checker's clients (test/support/driver.ts)
    proxy = await startWebSocketProxy()
    useWebSocketProxy(proxy.wsProxy)
  }
  await prismaMigrateDeploy(cluster.primaryUrl)
  await cluster.waitForReplication()
  const result = await runSessionCheck({
    seed,
    durationMs: seconds * 1000,
    primaryUrl: cluster.primaryUrl,
    replicas: cluster.info.replicas.map((r) => ({ name: r.name, url: r.url })),
    cluster,
    guarantees: { readYourWrites: true, monotonicReads: true },
    readTimeoutMs: 1000,
    pooledEntry: off('pooled') ? false : values['detect-pooled'] ? 'detected' : 'configured',
    poolers: values.poolers === 'pgbouncer' ? 'pgbouncer' : false,
    stacks: off('stacks') ? 'none' : 'random',
    workload: {
      ...DEFAULT_WORKLOAD,
      sessions: values.sessions === undefined ? DEFAULT_WORKLOAD.sessions : Number(values.sessions),
      primaryTransactions: !off('primary-tx'),
      localSyncCommitOff: !off('sync-off'),
      readsDuringTransactions: !off('tx-reads'),
      wideActors: off('tx-reads') ? 0 : DEFAULT_WORKLOAD.wideActors,
    },
    faults: { ...DEFAULT_FAULTS, weights: { ...DEFAULT_FAULTS.weights, syncCommitOff: off('sync-off') ? 0 : DEFAULT_FAULTS.weights.syncCommitOff } },
    log: (line) => {
      console.info(line)
    },
  })
  console.info(report(result, Number(values.full)))
  const faults = [...result.stats.faults].map(([k, n]) => `${k}=${String(n)}`).join(' ')
  console.info(`faults injected: ${faults || 'none'}`)
  console.info(
    `time to first violation: read-your-writes ${result.stats.firstRywMs === undefined ? 'none' : `${(result.stats.firstRywMs / 1000).toFixed(2)}s`}, ` +
      `monotonic ${result.stats.firstMonotonicMs === undefined ? 'none' : `${(result.stats.firstMonotonicMs / 1000).toFixed(2)}s`}`,
  )
  if (
    result.stats.ryw > 0 ||
    result.stats.extensions > 0 ||
    result.stats.failedReads > 0 ||
    result.stats.writesOnce > 0 ||
    result.stats.escaped.length > 0 ||
    (!values['ryw-only'] && result.stats.monotonic > 0)
  )
    exitCode = 1
} catch (error) {
  console.error(error)
  exitCode = 2
} finally {
  await proxy?.close()
  await cluster?.stop()
}
process.exit(exitCode)
