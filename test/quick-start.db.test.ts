/**
 * The Quick start (docs/quick-start.md), run as written, in a fresh project: the files it shows (the blocks marked
 * `<!-- quick-start: path -->`) written as they are; its shell steps done the same way — `npm init -y && npm pkg
 * set type=module` run for real, the `npm install`s replaced by links to this repository's node_modules and its
 * built package (what the registry and the tarball would install), then `prisma generate`, `prisma db push` and
 * `tsx main.ts` run by the project's own CLIs — against a database of its own on the local cluster's primary
 * (replicated to the replicas). The routes main.ts prints are those the README shows.
 */
import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { topology, waitForReplication } from './support/db.ts'

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '..')
const section = readFileSync(join(root, 'docs/quick-start.md'), 'utf8')
/** The Quick start's marked blocks, by name (a file path, or `run`). */
const blocks = new Map([...section.matchAll(/<!-- quick-start: (\S+) -->\n```\w+\n([\s\S]*?)\n```/g)].map((m) => [m[1] ?? '', `${m[2] ?? ''}\n`]))
const database = `quick_start_${String(process.pid)}`
const project = mkdtempSync(join('/tmp', 'prr-quick-start-'))
chmodSync(project, 0o755)

const admin = async (sql: string) => {
  const client = new pg.Client({ connectionString: topology.primaryUrl })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}
/** `url` with its database replaced. */
const onDatabase = (url: string) => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

afterAll(async () => {
  rmSync(project, { recursive: true, force: true })
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
})

it('the Quick start (docs/quick-start.md) runs as written in a fresh project: generate, db push, main.ts, and the routes it prints', async () => {
  expect([...blocks.keys()]).toEqual(['prisma/schema.prisma', 'prisma.config.ts', 'main.ts', 'run'])
  // The setup this test does as the README says (the installs: links, below).
  const setup = /```sh\n([\s\S]*?)\n```/.exec(section)?.[1] ?? ''
  expect(setup.split('\n')[0]).toBe('npm init -y && npm pkg set type=module')
  await run('npm', ['init', '-y'], { cwd: project })
  await run('npm', ['pkg', 'set', 'type=module'], { cwd: project })
  mkdirSync(join(project, 'node_modules'))
  for (const dependency of ['@prisma', 'pg', 'prisma', 'tsx']) symlinkSync(join(root, 'node_modules', dependency), join(project, 'node_modules', dependency))
  symlinkSync(root, join(project, 'node_modules', 'prisma-replica-router'))
  for (const [name, text] of blocks) {
    if (name === 'run') continue
    mkdirSync(dirname(join(project, name)), { recursive: true })
    writeFileSync(join(project, name), text)
  }

  await admin(`CREATE DATABASE ${database}`)
  const env = {
    ...process.env,
    DATABASE_URL: onDatabase(topology.primaryUrl),
    REPLICA_URLS: topology.replicas.map((r) => onDatabase(r.url)).join(','),
  }
  const steps = (blocks.get('run') ?? '').split('\n').filter((line) => line !== '' && !line.startsWith('export '))
  expect(steps).toEqual(['npx prisma generate && npx prisma db push   # the client, and the table on the primary', 'npx tsx main.ts'])
  const bin = (name: string) => join(root, 'node_modules', '.bin', name)
  await run(bin('prisma'), ['generate'], { cwd: project, env })
  await run(bin('prisma'), ['db', 'push'], { cwd: project, env })
  await waitForReplication() // the table, on the replicas too
  const { stdout, stderr } = await run(bin('tsx'), ['main.ts'], { cwd: project, env, timeout: 60_000 })
  console.info(`Quick start, main.ts:\n${stdout}`)
  expect(stderr).toBe('')

  // What the README says it prints, replica names aside (round-robin's start differs from run to run).
  const shown = /It prints where each query went:\n\n```text\n([\s\S]*?)\n```/.exec(section)?.[1]?.split('\n') ?? []
  const printed = stdout.trim().split('\n')
  const general = (line: string) => line.replace(/replica-\d/, 'replica-N')
  expect(printed).toHaveLength(shown.length)
  printed.forEach((line, i) => {
    // The read after the create: the primary, or a replica that has replayed it (the README says so).
    if (i === 2 && /^User\.findMany -> replica-\d \(read\)$/.test(line)) return
    expect(general(line)).toBe(general(shown[i] ?? ''))
  })
  expect(printed.at(-1)).toBe(shown.at(-1)) // $replica('replica-2') is that replica
}, 120_000)
