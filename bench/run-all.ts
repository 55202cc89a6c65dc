/**
 * `npm run bench`: runs every benchmark (each starts its own local cluster), prints their tables, and writes
 * BENCHMARKS.md (tables, machine, date, command) and bench/latency.svg (read latency per variant).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'

const benches: { title: string; file: string; node?: string[]; args?: string[] }[] = [
  { title: 'Overhead: reads on a replica, plain client vs @prisma/extension-read-replicas 0.5 vs prisma-replica-router', file: 'bench/overhead.ts' },
  { title: 'Routing decision cost (in-process, no database)', file: 'bench/decision.ts' },
  { title: 'Balance: share of reads per replica under 16 workers', file: 'bench/balance.ts' },
  { title: 'Consistency: stale reads and replica share, no stickiness vs window vs LSN', file: 'bench/consistency.ts' },
  { title: 'Failover: kill and restart a replica under load', file: 'bench/failover.ts' },
  { title: 'Bursts: 10x the pool size at once against 2 replicas', file: 'bench/burst.ts' },
  { title: 'Health checks: what they cost the servers', file: 'bench/health-cost.ts' },
  { title: 'Memory: heap growth with per-request scopes', file: 'bench/memory.ts', node: ['--expose-gc'] },
]

interface Overhead {
  /** Per query, per variant: its median, the plain client's median in the same processes (ms), and the ratio. */
  result: Record<string, Record<string, { median: number; baseline: number; ratio: number }>>
}

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
  sections.push(`## ${bench.title}\n\n\`${bench.file}\`\n\n${body.replaceAll(/^#+ /gm, '#### ')}\n`)
}

// Chart: median read latency per variant, from the overhead benchmark: each variant from its own comparison
// process, with a tick at the plain client's median in that process and the ratio between them.
const overhead = results.overhead as Overhead | undefined
if (overhead) {
  const variants = ['plain', 'official', 'ours', 'ours (after another extension)'] as const
  const colors = { plain: '#8a8a8a', official: '#4c78a8', ours: '#f58518', 'ours (after another extension)': '#fdbf6f' }
  const names = {
    plain: 'plain PrismaClient',
    official: '@prisma/extension-read-replicas',
    ours: 'prisma-replica-router',
    'ours (after another extension)': 'prisma-replica-router after another extension',
  }
  const queries = Object.keys(overhead.result)
  const max = Math.max(...queries.flatMap((q) => variants.flatMap((v) => [overhead.result[q]?.[v]?.median ?? 0, overhead.result[q]?.[v]?.baseline ?? 0]))) * 1.15
  const width = 640
  const height = 360
  const groupWidth = (width - 80) / queries.length
  const bar = groupWidth / (variants.length + 1)
  const y = (ms: number) => height - 40 - (ms / max) * (height - 120)
  const bars = queries.flatMap((q, qi) =>
    variants.map((v, vi) => {
      const { median: m = 0, baseline = m, ratio = 1 } = overhead.result[q]?.[v] ?? {}
      const x = 60 + qi * groupWidth + (vi + 0.5) * bar
      const w = bar * 0.9
      // A dark tick: the plain client's median in the same processes, what the ratio is taken against.
      const tick =
        v === 'plain' ? '' : `<line x1="${x.toFixed(1)}" y1="${y(baseline).toFixed(1)}" x2="${(x + w).toFixed(1)}" y2="${y(baseline).toFixed(1)}" stroke="#222" stroke-width="2"/>`
      const ratioLabel =
        v === 'plain' ? '' : `<text x="${(x + w / 2).toFixed(1)}" y="${(y(Math.max(m, baseline)) - 18).toFixed(1)}" font-size="11" text-anchor="middle">${ratio.toFixed(3)}×</text>`
      return (
        `<rect x="${x.toFixed(1)}" y="${y(m).toFixed(1)}" width="${w.toFixed(1)}" height="${(height - 40 - y(m)).toFixed(1)}" fill="${colors[v]}"/>${tick}${ratioLabel}` +
        `<text x="${(x + w / 2).toFixed(1)}" y="${(y(Math.max(m, baseline)) - 5).toFixed(1)}" font-size="11" text-anchor="middle">${(m * 1000).toFixed(0)} µs</text>`
      )
    }),
  )
  const labels = queries.map((q, qi) => `<text x="${(60 + (qi + 0.5) * groupWidth).toFixed(1)}" y="${String(height - 18)}" font-size="13" text-anchor="middle">${q}</text>`)
  // Two legend entries per row.
  const legend = variants.map((v, vi) => {
    const x = vi % 2 === 0 ? 20 : 330
    const y = 10 + Math.floor(vi / 2) * 18
    return `<rect x="${String(x)}" y="${String(y)}" width="12" height="12" fill="${colors[v]}"/><text x="${String(x + 18)}" y="${String(y + 11)}" font-size="12">${names[v]}</text>`
  })
  writeFileSync(
    'bench/latency.svg',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" font-family="sans-serif">` +
      `<rect width="100%" height="100%" fill="white"/><text x="${String(width / 2)}" y="64" font-size="14" text-anchor="middle">Median read on a replica (production error format); tick: plain client, same process</text>` +
      `<line x1="55" y1="${String(height - 40)}" x2="${String(width - 10)}" y2="${String(height - 40)}" stroke="#333"/>${bars.join('')}${labels.join('')}${legend.join('')}</svg>\n`,
  )
}

const pgVersion = execFileSync('/usr/lib/postgresql/15/bin/postgres', ['--version'], { encoding: 'utf8' }).trim()
const machine = `${String(cpus().length)} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${pgVersion}, ${process.platform}`
writeFileSync(
  'BENCHMARKS.md',
  `# Benchmarks\n\nWritten by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}.\n\n- Machine: ${machine}\n` +
    '- Each benchmark starts its own local PostgreSQL primary + streaming replicas (loopback, data on /dev/shm) and compares variants in the same run.\n' +
    '- Command: `npm run bench` (or one of `npm run bench:overhead|bench:decision|bench:balance|bench:consistency|bench:failover|bench:burst|bench:health-cost|bench:memory`).\n\n' +
    '![Median read latency per variant](bench/latency.svg)\n\n' +
    sections.join('\n'),
)
console.log('\nwrote BENCHMARKS.md and bench/latency.svg')
