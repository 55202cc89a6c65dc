/**
 * `npm run bench`: runs every benchmark (each starts its own local cluster), prints their tables, and writes
 * BENCHMARKS.md (tables, machine, date, command) and bench/latency.svg (read latency per variant).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { findPgBin } from '../src/testing/local-cluster.ts'
import { latencyChart, type Overhead } from './latency-chart.ts'

const benches: { title: string; file: string; node?: string[]; args?: string[] }[] = [
  { title: 'Overhead: reads on a replica, plain client vs @prisma/extension-read-replicas 0.5 vs prisma-replica-router', file: 'bench/overhead.ts' },
  { title: 'Routing decision cost (in-process, no database)', file: 'bench/decision.ts' },
  { title: 'Balance: share of reads per replica under 16 workers', file: 'bench/balance.ts' },
  { title: 'Consistency: stale reads and replica share, no stickiness vs window vs LSN', file: 'bench/consistency.ts' },
  { title: 'Failover: kill and restart a replica under load', file: 'bench/failover.ts' },
  { title: "Raw SQL on replicas: what raw: 'classify' costs a raw query", file: 'bench/raw-classify.ts' },
  { title: 'Consistency on MariaDB (GTID positions)', file: 'bench/consistency.ts', args: ['--engine', 'mariadb'] },
  { title: 'Failover on MariaDB: kill and restart a replica under load', file: 'bench/failover.ts', args: ['--engine', 'mariadb'] },
  { title: 'Bursts: 10x the pool size at once against 2 replicas', file: 'bench/burst.ts' },
  { title: 'Health checks: what they cost the servers', file: 'bench/health-cost.ts' },
  { title: 'Memory: heap growth with per-request scopes', file: 'bench/memory.ts', node: ['--expose-gc'] },
  { title: 'Cold start: a fresh process builds its client, writes a row and reads it back', file: 'bench/cold-start.ts' },
]

const sections: string[] = []
const results: Record<string, unknown> = {}
for (const bench of benches) {
  console.log(`\n## ${bench.title}\n(${bench.file})`)
  const run = spawnSync(process.execPath, [...(bench.node ?? []), '--import', 'tsx', bench.file, ...(bench.args ?? [])], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (run.status !== 0) {
    console.error(run.stdout, run.stderr)
    throw new Error(`${bench.file} failed (exit ${String(run.status)})`)
  }
  const lines = run.stdout.split('\n')
  for (const line of lines.filter((l) => l.startsWith('@@result '))) {
    const [, name = '', ...json] = line.split(' ')
    results[name] = JSON.parse(json.join(' ')) as unknown
  }
  const body = lines
    .filter((l) => !l.startsWith('@@result '))
    .join('\n')
    .trim()
  console.log(body)
  const command = [bench.file, ...(bench.args ?? [])].join(' ')
  sections.push(`## ${bench.title}\n\n\`${command}\`\n\n${body.replaceAll(/^#+ /gm, '#### ')}\n`)
}

// Chart: median read latency per variant, from the overhead benchmark (bench/latency-chart.ts).
const overhead = results.overhead as Overhead | undefined
if (overhead) writeFileSync('bench/latency.svg', latencyChart(overhead))

// The server the benchmarks ran: found as the test kit finds it ($PG_BIN, else the newest installed).
const pgVersion = execFileSync(join(findPgBin(), 'postgres'), ['--version'], { encoding: 'utf8' }).trim()
const machine = `${String(cpus().length)} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${pgVersion}, ${process.platform}`
writeFileSync(
  'BENCHMARKS.md',
  `# Benchmarks\n\nWritten by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}.\n\n- Machine: ${machine}\n` +
    '- Each benchmark starts its own local PostgreSQL primary + streaming replicas (the MariaDB ones: a MariaDB primary + GTID replicas; loopback, data on /dev/shm) and compares variants in the same run.\n' +
    '- Command: `npm run bench` (or one of `npm run bench:overhead|bench:decision|bench:balance|bench:consistency|bench:failover|bench:burst|bench:health-cost|bench:memory`).\n\n' +
    '![Median read latency per variant](bench/latency.svg)\n\n' +
    sections.join('\n'),
)
console.log('\nwrote BENCHMARKS.md and bench/latency.svg')
