import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { requireCluster } from '../support/db.ts'

const root = resolve(import.meta.dirname, '../..')
// A user's project that depends on the BUILT package (dist/, through package.json "exports").
const project = mkdtempSync(join('/tmp', 'prr-user-project-'))
afterAll(() => {
  rmSync(project, { recursive: true, force: true })
})

const script = `
import { readReplicas } from 'prisma-replica-router'
import { startLocalCluster, LocalCluster } from 'prisma-replica-router/testing'
const cluster = await startLocalCluster({ replicas: 2 })
try {
  await cluster.query('primary', 'CREATE TABLE t (x int)')
  await cluster.waitForReplication()
  await cluster.pauseReplay('replica-1')
  await cluster.query('primary', 'INSERT INTO t VALUES (1)')
  await cluster.waitForReplication({ replicas: ['replica-2'] })
  const [paused] = await cluster.query('replica-1', 'SELECT count(*)::int AS n FROM t')
  const [live] = await cluster.query('replica-2', 'SELECT count(*)::int AS n FROM t')
  await cluster.resumeReplay('replica-1')
  await cluster.setReplicaLag('replica-2', 50)
  await cluster.stopReplica('replica-2')
  await cluster.startReplica('replica-2')
  await cluster.setReplicaLag('replica-2', 0)
  await cluster.waitForReplication()
  const attached = LocalCluster.attach(cluster.info)
  console.log(JSON.stringify({ paused: paused.n, live: live.n, uid: process.getuid(), extension: typeof readReplicas, attached: attached.primaryUrl === cluster.primaryUrl }))
} finally {
  await cluster.stop()
}
`

it('a user project imports prisma-replica-router/testing from the built package and drives a cluster, as root and as a normal user', (ctx) => {
  requireCluster(ctx) // the PostgreSQL binaries are here
  expect(existsSync(join(root, 'dist/testing/index.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
  mkdirSync(join(project, 'node_modules'))
  symlinkSync(root, join(project, 'node_modules/prisma-replica-router'))
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', type: 'module', private: true }))
  writeFileSync(join(project, 'cluster-check.js'), script)
  chmodSync(project, 0o755)
  const asUsers: string[][] = process.getuid?.() === 0 ? [[], ['runuser', '-u', 'postgres', '--']] : [[]]
  for (const prefix of asUsers) {
    const argv = [...prefix, process.execPath, 'cluster-check.js']
    const result = spawnSync(argv[0] ?? process.execPath, argv.slice(1), { cwd: project, encoding: 'utf8', timeout: 60_000 })
    expect(result.stderr).toBe('')
    const report = JSON.parse(result.stdout.trim()) as { paused: number; live: number; uid: number; extension: string; attached: boolean }
    expect(report).toMatchObject({ paused: 0, live: 1, extension: 'function', attached: true })
    expect(result.status).toBe(0)
  }
})
