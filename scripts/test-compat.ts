/**
 * `npm run test:compat -- <version…>`: runs the whole suite against each Prisma Client release given
 * (`@prisma/client` and `@prisma/adapter-pg` of that version; the CLI stays at the pinned version, which generates
 * the client), in a clean clone of this repository's HEAD beside it, and writes the compatibility table into
 * README.md between `<!-- compat:start -->` and `<!-- compat:end -->` (rows of versions not run are kept).
 *
 * Each run takes about as long as `npm test` (5 minutes here). Needs the npm registry.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const versions = process.argv.slice(2)
if (versions.length === 0 || versions.some((v) => !/^7\.\d+\.\d+$/.test(v))) {
  console.error('usage: npm run test:compat -- <7.x.y> [7.x.y …]   (Prisma Client releases to test against)')
  process.exit(2)
}

const root = resolve(import.meta.dirname, '..')
const clone = mkdtempSync(join(tmpdir(), 'prr-compat-'))
// Readable by the `postgres` user, as a checkout is: the package test runs a user project as that user too.
chmodSync(clone, 0o755)
const run = (command: string, args: string[], cwd = clone) =>
  execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })

interface Row {
  readonly version: string
  readonly passed: number
  readonly failed: number
  readonly skipped: number
  readonly failures: string[]
}

const rows: Row[] = []
try {
  run('git', ['clone', '-q', root, clone], root)
  const head = run('git', ['rev-parse', '--short', 'HEAD']).trim()
  console.log(`compat: clean clone of ${head} in ${clone}; npm ci`)
  run('npm', ['ci', '--no-audit', '--no-fund'])
  for (const version of versions) {
    console.log(`compat: @prisma/client@${version} @prisma/adapter-pg@${version}`)
    run('npm', ['install', '--no-save', '--no-audit', '--no-fund', `@prisma/client@${version}`, `@prisma/adapter-pg@${version}`])
    run('npm', ['run', 'generate'])
    run('npm', ['run', 'build'])
    const suite = spawnSync('npx', ['vitest', 'run', '--reporter=json', '--outputFile=compat.json'], { cwd: clone, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
    const report = JSON.parse(readFileSync(join(clone, 'compat.json'), 'utf8')) as {
      numPassedTests: number
      numFailedTests: number
      numPendingTests: number
      testResults: { assertionResults: { fullName: string; status: string }[] }[]
    }
    const failures = report.testResults.flatMap((file) => file.assertionResults.filter((t) => t.status === 'failed').map((t) => t.fullName))
    rows.push({ version, passed: report.numPassedTests, failed: report.numFailedTests, skipped: report.numPendingTests, failures })
    console.log(`compat: ${version}: ${String(report.numPassedTests)} passed, ${String(report.numFailedTests)} failed (exit ${String(suite.status)})`)
    for (const failure of failures) console.log(`  failed: ${failure}`)
  }
} finally {
  rmSync(clone, { recursive: true, force: true })
}

// Merge into the README table: one row per version, newest first.
const readmePath = join(root, 'README.md')
const readme = readFileSync(readmePath, 'utf8')
const start = readme.indexOf('<!-- compat:start -->')
const end = readme.indexOf('<!-- compat:end -->')
if (start === -1 || end === -1) throw new Error('README.md has no <!-- compat:start --> … <!-- compat:end --> block')
const existing = new Map<string, string>()
for (const line of readme.slice(start, end).split('\n')) {
  const match = /^\| (7\.\d+\.\d+) \|/.exec(line)
  if (match?.[1]) existing.set(match[1], line)
}
const date = new Date().toISOString().slice(0, 10)
for (const row of rows) {
  const notes = row.failures.length === 0 ? '' : row.failures.map((f) => f.replaceAll('|', '\\|')).join('; ')
  existing.set(row.version, `| ${row.version} | ${String(row.passed)} | ${String(row.failed)} | ${String(row.skipped)} | ${date} | ${notes} |`)
}
const byVersion = [...existing.entries()].sort(([a], [b]) => b.localeCompare(a, undefined, { numeric: true }))
const table = [
  '<!-- compat:start -->',
  '| @prisma/client | tests passed | failed | skipped | run on | failing tests |',
  '| --- | ---: | ---: | ---: | --- | --- |',
  ...byVersion.map(([, line]) => line),
  '',
].join('\n')
writeFileSync(readmePath, readme.slice(0, start) + table + readme.slice(end))
console.log(`compat: README.md table updated (${String(rows.length)} version(s) run)`)
