/**
 * bench/cold-start — `npm run bench:cold-start`. A serverless function's cold start: a fresh Node process that
 * builds its client, writes a row and reads it back (the read must see the write), and disconnects; the
 * routed client (readReplicas over 2 replicas, the handler in a scope) against a plain PrismaClient on the
 * primary, measured in the same run.
 *
 * Both functions (bench/cold-start/) are bundled as a serverless deployment bundles them (esbuild, the
 * generated client inside, packages external: prisma-replica-router is dist/ as installed, so `npm run build`
 * first) and run with plain `node` (no TypeScript loader). Runs alternate, plain then routed then routed then
 * plain…, after warm-up runs of each; the figure is the median of the pairwise ratios of wall time (spawn to
 * exit), with the medians of each phase the function reports (ms since its process started): all modules
 * loaded, client built, the read answered, disconnected. Goal (issue 27): routed at most 1.10x the plain client.
 */
import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import { benchCluster, emitResult, median } from './support.ts'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '12' }, warmup: { type: 'string', default: '2' } } })
const runs = Number(values.runs)
const warmup = Number(values.warmup)

const outdir = fileURLToPath(new URL('.cold-start/', import.meta.url))
const variants = ['plain', 'routed'] as const
type Variant = (typeof variants)[number]

interface Phases {
  loaded: number
  built: number
  answered: number
  disconnected: number
}
interface Run extends Phases {
  wall: number
}

await build({
  entryPoints: variants.map((v) => fileURLToPath(new URL(`cold-start/${v}.ts`, import.meta.url))),
  bundle: true,
  packages: 'external',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
})

/** One cold start of `variant`: wall time from spawn to exit, and the phases it printed. */
function coldStart(variant: Variant, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, [`${outdir}${variant}.mjs`], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('error', reject)
    child.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - started) / 1e6
      if (code !== 0) reject(new Error(`${variant} exited with ${String(code)}: ${err}`))
      else resolve({ ...(JSON.parse(out.trim().split('\n').at(-1) ?? '') as Phases), wall })
    })
  })
}

const { cluster } = await benchCluster('postgresql')
try {
  await cluster.waitForReplication()
  const env = { ...process.env, COLD_START_PRIMARY: cluster.primaryUrl, COLD_START_REPLICAS: cluster.replicaUrls.join(',') }
  for (let i = 0; i < warmup; i++) for (const v of variants) await coldStart(v, env)
  const results: Record<Variant, Run[]> = { plain: [], routed: [] }
  const ratios: number[] = []
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? variants : [...variants].reverse()
    const pair = {} as Record<Variant, Run>
    for (const v of order) pair[v] = await coldStart(v, env)
    results.plain.push(pair.plain)
    results.routed.push(pair.routed)
    ratios.push(pair.routed.wall / pair.plain.wall)
  }
  const row = (v: Variant) => {
    const rs = results[v]
    const m = (f: (r: Run) => number) => median(rs.map(f)).toFixed(0)
    return `| ${v} | ${m((r) => r.wall)} | ${m((r) => r.loaded)} | ${m((r) => r.built - r.loaded)} | ${m((r) => r.answered - r.built)} | ${m((r) => r.disconnected - r.answered)} |`
  }
  const ratio = median(ratios)
  console.log(`Cold start, ${String(runs)} alternating runs of each after ${String(warmup)} warm-up runs (medians, ms)\n`)
  console.log('| client | wall (spawn to exit) | modules loaded | client built | write + read answered | disconnect |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  console.log(row('plain'))
  console.log(row('routed'))
  console.log(
    `\nrouted / plain, wall time: median ${ratio.toFixed(2)}x (pairwise, min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)}); goal at most 1.10x`,
  )
  emitResult('cold-start', {
    runs,
    ratio,
    plain: median(results.plain.map((r) => r.wall)),
    routed: median(results.routed.map((r) => r.wall)),
  })
} finally {
  await cluster.stop()
  rmSync(outdir, { recursive: true, force: true })
}
