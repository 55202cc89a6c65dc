/**
 * `npm run build`'s last step: each entry point of the package (dist/index.js, what `import 'prisma-replica-router'`
 * loads; dist/testing/index.js; dist/cli.js) becomes one ES module, bundled from tsc's output with esbuild, its
 * dependencies left as imports; tsc's other .js files are removed (the declarations stay). Node loads the ~80
 * modules of the package one by one (resolve, read, parse, link): measured, ~50 ms of a cold process's start,
 * against ~15 ms for the bundle (bench/cold-start.ts).
 */
import { readdirSync, rmSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const entries = ['index.js', 'testing/index.js', 'cli.js'].map((entry) => join(dist, entry))

await build({
  entryPoints: entries,
  outdir: dist,
  outbase: dist,
  allowOverwrite: true,
  bundle: true,
  packages: 'external',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
})

for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  const file = join(entry.parentPath, entry.name)
  if (entry.isFile() && file.endsWith('.js') && !entries.includes(file)) rmSync(file)
}
console.log(`bundled: ${entries.map((e) => relative(dist, e)).join(', ')}`)
