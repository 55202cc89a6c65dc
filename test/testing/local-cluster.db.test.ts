import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it } from 'vitest'
import { PostgresBinariesNotFoundError, startLocalCluster, type LocalClusterInfo } from '../../src/testing/local-cluster.ts'
import { requireCluster } from '../support/db.ts'

describe('startLocalCluster', () => {
  it('fails with a clear, typed error when the PostgreSQL binaries are missing', async () => {
    const error = await startLocalCluster({ pgBin: '/nonexistent/bin' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PostgresBinariesNotFoundError)
    expect((error as Error).message).toContain('not found in: /nonexistent/bin')
    expect((error as Error).message).toContain('apt-get install -y --no-install-recommends postgresql-15')
  })

  it('the watchdog stops the servers and removes the data when the owning process is killed', async (ctx) => {
    requireCluster(ctx) // needs the PostgreSQL binaries, like the local cluster
    const owner = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import('./src/testing/local-cluster.ts').then(async (m) => {
           const c = await m.startLocalCluster({ replicas: 1 })
           console.log(JSON.stringify(c.info))
           setInterval(() => {}, 1000)
         })`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: owner.stdout }).once('line', resolve)
      owner.once('exit', (code) => {
        reject(new Error(`owner exited early (${String(code)})`))
      })
    })
    const info = JSON.parse(line) as LocalClusterInfo
    const pidFiles = [info.primary, ...info.replicas].map((s) => join(s.dataDir, 'postmaster.pid'))
    expect(pidFiles.every((f) => existsSync(f))).toBe(true)
    owner.kill('SIGKILL')
    // Wait on the condition (the watchdog polls once a second), bounded.
    const deadline = Date.now() + 20_000
    while (existsSync(info.baseDir) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(existsSync(info.baseDir)).toBe(false)
    expect(pidFiles.some((f) => existsSync(f))).toBe(false)
  })
})

describe('promoteReplica / rebuildReplica (a failover of the kit’s cluster, and back)', () => {
  it('a promoted replica leaves recovery and accepts writes the primary never sees; rebuilt, it replicates the primary again', async (ctx) => {
    const cluster = requireCluster(ctx)
    const table = `prr_promoted_${String(process.pid)}`
    try {
      await cluster.promoteReplica('replica-2')
      expect(await cluster.query('replica-2', 'SELECT pg_is_in_recovery() AS r')).toEqual([{ r: false }])
      // It is a primary of its own now: a write there is not the primary's, and the primary's is not there.
      await cluster.query('replica-2', `CREATE TABLE ${table} (id int)`)
      expect(await cluster.query('primary', `SELECT to_regclass('${table}') AS t`)).toEqual([{ t: null }])
      await cluster.query('primary', `CREATE TABLE ${table}_primary (id int)`)
      expect(await cluster.query('replica-2', `SELECT to_regclass('${table}_primary')::text AS t`)).toEqual([{ t: null }])
    } finally {
      await cluster.rebuildReplica('replica-2')
    }
    expect(await cluster.query('replica-2', 'SELECT pg_is_in_recovery() AS r')).toEqual([{ r: true }])
    expect(await cluster.query('replica-2', `SELECT to_regclass('${table}') AS t, to_regclass('${table}_primary')::text AS p`)).toEqual([{ t: null, p: `${table}_primary` }])
    await cluster.query('primary', `DROP TABLE ${table}_primary`)
    await cluster.waitForReplication()
  })
})
