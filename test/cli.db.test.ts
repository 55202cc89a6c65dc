import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { topology } from './support/db.ts'
import { requireMariadb } from './support/mariadb.ts'

const root = resolve(import.meta.dirname, '..')
const cli = join(root, 'src/cli.ts')
const empty = mkdtempSync(join(tmpdir(), 'prr-cli-')) // a folder without prisma.config.ts
afterAll(() => {
  rmSync(empty, { recursive: true, force: true })
})

const SECRET = 'pw-cli-not-shown'
const withPassword = (url: string) => url.replace('postgresql://postgres@', `postgresql://postgres:${SECRET}@`)
const replicaUrl = withPassword(topology.replicas[0]!.url)
const primaryUrl = withPassword(topology.primaryUrl)

function run(args: string[], env: Record<string, string>, cwd = empty) {
  const result = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), cli, ...args], {
    cwd,
    env: { ...process.env, DATABASE_URL: '', ...env },
    encoding: 'utf8',
  })
  const output = `${result.stdout}${result.stderr}`
  expect(output).not.toContain(SECRET)
  expect(output).not.toContain('postgresql://')
  return { code: result.status, output }
}

describe('prisma-replica-router check-primary (guard before prisma migrate deploy)', () => {
  it('refuses a hot standby: exit 1 with a clear message', () => {
    const { code, output } = run(['check-primary'], { DATABASE_URL: replicaUrl })
    expect(code).toBe(1)
    expect(output).toContain('Refusing to migrate: the server behind $DATABASE_URL is a hot standby (pg_is_in_recovery() = true)')
  })

  it('accepts the primary: exit 0', () => {
    const { code, output } = run(['check-primary'], { DATABASE_URL: primaryUrl })
    expect(output).toContain('check-primary: $DATABASE_URL is the primary (not in recovery)')
    expect(code).toBe(0)
  })

  it('reads the migration URL from prisma.config.ts, as prisma migrate does', () => {
    expect(run(['check-primary'], { DATABASE_URL: replicaUrl }, root).code).toBe(1)
    expect(run(['check-primary', '--config', join(root, 'prisma.config.ts')], { DATABASE_URL: primaryUrl }).code).toBe(0)
  })

  it('--env names another variable; an unreachable server or usage error exits 2', () => {
    expect(run(['check-primary', '--env', 'MIGRATE_URL'], { MIGRATE_URL: replicaUrl }).code).toBe(1)
    const unreachable = run(['check-primary'], { DATABASE_URL: `postgresql://postgres:${SECRET}@127.0.0.1:1/x` })
    expect(unreachable.code).toBe(2)
    expect(unreachable.output).toContain('cannot check $DATABASE_URL')
    expect(run(['check-primary'], {}).code).toBe(2)
    expect(run(['migrate'], {}).code).toBe(2)
  })

  it('DATABASE_URL unset with a prisma.config.ts that reads it: says so (exit 2), and tries no server', () => {
    const { code, output } = run(['check-primary'], {}, root)
    expect(code).toBe(2)
    expect(output).toContain('check-primary: prisma.config.ts gives no datasource.url ($DATABASE_URL is not set)')
  })

  it('an unknown option or a missing value: the usage and exit 2 (never 1, which means a hot standby), no stack trace', () => {
    for (const args of [
      ['check-primary', '--bogus'],
      ['check-primary', '--env'],
      ['check-primary', '--config'],
    ]) {
      const { code, output } = run(args, { DATABASE_URL: primaryUrl })
      expect(code).toBe(2)
      expect(output).toContain('usage: prisma-replica-router check-primary')
      expect(output).not.toContain('    at ')
    }
  })
})

describe('check-primary on MariaDB (a real primary + GTID replica)', () => {
  it('refuses a replica (exit 1, @@read_only = 1) and accepts the primary (exit 0); never prints the URL', (ctx) => {
    const cluster = requireMariadb(ctx)
    const replica = run(['check-primary'], { DATABASE_URL: cluster.replicaUrls[0]! })
    expect(replica.output).not.toContain('mysql://')
    expect(replica.output).toContain('Refusing to migrate: the server behind $DATABASE_URL is a hot standby (@@read_only = 1)')
    expect(replica.code).toBe(1)
    const primary = run(['check-primary'], { DATABASE_URL: cluster.primaryUrl })
    expect(primary.output).not.toContain('mysql://')
    expect(primary.output).toContain('check-primary: $DATABASE_URL is the primary (writable, no replication running)')
    expect(primary.code).toBe(0)
  })

  it('a writable server with replication running is a replica too (Slave_running = ON)', async (ctx) => {
    const cluster = requireMariadb(ctx)
    await cluster.query('replica-2', 'SET GLOBAL read_only = 0')
    try {
      const { code, output } = run(['check-primary'], { DATABASE_URL: cluster.replicaUrls[1]! })
      expect(output).toContain('(Slave_running = ON)')
      expect(code).toBe(1)
    } finally {
      await cluster.query('replica-2', 'SET GLOBAL read_only = 1')
    }
  })
})
