/**
 * bench/latency.svg: the median read on a replica per variant of the overhead benchmark (bench/overhead.ts),
 * each from its own comparison processes, with a tick at the plain client's median in those processes and the
 * ratio between them. Written by `npm run bench` (bench/run-all.ts).
 */

/** What bench/overhead.ts reports (its `@@result overhead` line). */
export interface Overhead {
  /** Per query, per variant: its median, the plain client's median in the same processes (ms), and the ratio. */
  result: Record<string, Record<string, { median: number; baseline: number; ratio: number }>>
}

/** The chart as an SVG document. */
export function latencyChart(overhead: Overhead): string {
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
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(width)}" height="${String(height)}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/><text x="${String(width / 2)}" y="64" font-size="14" text-anchor="middle">Median read on a replica (production error format); tick: plain client, same process</text>` +
    `<line x1="55" y1="${String(height - 40)}" x2="${String(width - 10)}" y2="${String(height - 40)}" stroke="#333"/>${bars.join('')}${labels.join('')}${legend.join('')}</svg>\n`
  )
}
