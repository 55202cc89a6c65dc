/**
 * The package as a user gets it: `npm pack`, the tarball unpacked into a fresh project's node_modules (its
 * dependencies are this repository's, linked), then type-checked with `skipLibCheck: false` under
 * `module: nodenext`, under `moduleResolution: bundler` and from a CommonJS file, and run: one routed read from an
 * ES module and one from a CommonJS file, and the test kit driving a cluster, as root and as a normal user.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireCluster, topology } from './support/db.ts'

const root = resolve(import.meta.dirname, '..')
const project = mkdtempSync(join('/tmp', 'prr-consumer-'))
const tsc = join(root, 'node_modules/.bin/tsc')
afterAll(() => {
  rmSync(project, { recursive: true, force: true })
})

let packed: string[] = []

beforeAll(() => {
  expect(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', project], { cwd: root, encoding: 'utf8' })) as {
    filename: string
    files: { path: string }[]
  }[]
  packed = pack?.files.map((f) => f.path) ?? []
  const target = join(project, 'node_modules/prisma-replica-router')
  mkdirSync(target, { recursive: true })
  execFileSync('tar', ['-xzf', join(project, pack?.filename ?? ''), '-C', target, '--strip-components=1'])
  // Linked: Node resolves their own dependencies from where they really are (this repository's node_modules).
  for (const dependency of ['@prisma', 'pg', '@types']) {
    symlinkSync(join(root, 'node_modules', dependency), join(project, 'node_modules', dependency))
  }
  symlinkSync(join(root, 'generated'), join(project, 'generated'))
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  chmodSync(project, 0o755)
})

describe('the packed package', () => {
  it('holds what a user needs: dist, README, LICENSE, package.json, and no sources or tests', () => {
    expect(packed).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/testing/index.js', 'dist/cli.js']))
    expect(packed.filter((p) => !p.startsWith('dist/') && !['LICENSE', 'README.md', 'package.json'].includes(p))).toEqual([])
  })

  it('loads each entry point as one module (scripts/bundle.ts): no relative import left, no other .js file', () => {
    expect(packed.filter((p) => p.endsWith('.js')).sort()).toEqual(['dist/cli.js', 'dist/index.js', 'dist/testing/index.js'])
    for (const entry of ['dist/index.js', 'dist/testing/index.js', 'dist/cli.js']) {
      expect(readFileSync(join(root, entry), 'utf8'), entry).not.toMatch(/(?:from|import)\s*\(?\s*['"]\.{1,2}\//)
    }
  })

  // Uses the public API the way an application does; compiled with the package's own declarations checked.
  const usage = `
    import { readReplicas, runInScope, prometheusMetrics, isReplicaRouterError, type PrismaClientLike, type ReadReplicasOptions, type RouterStats } from 'prisma-replica-router'
    import { startLocalCluster, type LocalCluster } from 'prisma-replica-router/testing'
    declare const client: ReadReplicasOptions['replicas'][number]
    const extension = readReplicas({ replicas: [client], policy: 'least-in-flight', health: { idleAfterMs: 60_000 } })
    const stats: RouterStats | undefined = undefined
    // exactOptionalPropertyTypes: a value that may be undefined is accepted where an option may be left out.
    declare const cookie: string | undefined
    declare const env: Record<string, string | undefined>
    declare const replicaClient: PrismaClientLike
    const scoped = runInScope(async () => 1, { token: cookie, strict: undefined })
    const configured = readReplicas({ replicas: [{ client: replicaClient, name: env.REPLICA_NAME }], maxLag: env.MAX_LAG ? { ms: Number(env.MAX_LAG) } : undefined, primaryConnection: env.PRIMARY_URL })
    export const used = [extension, runInScope, prometheusMetrics, isReplicaRouterError, stats, startLocalCluster, scoped, configured] as const
    export type Cluster = LocalCluster
  `
  const cjsUsage = `
    import router = require('prisma-replica-router')
    const extension = router.readReplicas({ replicas: [] as unknown as router.ReadReplicasOptions['replicas'] })
    export = { extension, runInScope: router.runInScope }
  `
  it.for([
    { name: 'module nodenext (ESM)', file: 'usage.mts', source: usage, options: { module: 'nodenext', moduleResolution: 'nodenext' } },
    { name: 'moduleResolution bundler', file: 'usage.ts', source: usage, options: { module: 'esnext', moduleResolution: 'bundler' } },
    { name: 'CommonJS (require)', file: 'usage.cts', source: cjsUsage, options: { module: 'nodenext', moduleResolution: 'nodenext' } },
  ])('its declarations compile for a consumer with skipLibCheck false and exactOptionalPropertyTypes: $name', ({ file, source, options }) => {
    const dir = join(project, `tsc-${file.replace('.', '-')}`)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, file), source)
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...options, target: 'es2022', strict: true, exactOptionalPropertyTypes: true, noEmit: true, skipLibCheck: false, types: ['node'] },
        files: [file],
      }),
    )
    const result = spawnSync(tsc, ['-p', dir], { cwd: project, encoding: 'utf8' })
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  })

  const read = (importRouter: string) => `
    ${importRouter}
    const { PrismaPg } = await import('@prisma/adapter-pg')
    const { PrismaClient } = await import('./generated/prisma/client.ts')
    const client = (url) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })
    const events = []
    const prisma = client(process.env.P).$extends(readReplicas({ replicas: [client(process.env.R)], onRoute: (e) => events.push(e.target) }))
    const count = await prisma.note.count()
    await prisma.$disconnect()
    console.log(JSON.stringify({ count: typeof count, events }))
  `
  it.for([
    { name: 'an ES module (import)', file: 'read.mjs', source: read("import { readReplicas } from 'prisma-replica-router'") },
    {
      name: 'a CommonJS file (require)',
      file: 'read.cjs',
      source: `(async () => {${read("const { readReplicas } = require('prisma-replica-router')")}})().catch((e) => { console.error(e); process.exitCode = 1 })`,
    },
  ])('routes a read to the replica from $name', ({ file, source }) => {
    writeFileSync(join(project, file), source.replace(/^\s+/gm, ''))
    const result = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), file], {
      cwd: project,
      encoding: 'utf8',
      env: { ...process.env, P: topology.primaryUrl, R: topology.replicas[0]?.url ?? '' },
      timeout: 60_000,
    })
    expect(result.stderr).toBe('')
    expect(JSON.parse(result.stdout.trim())).toEqual({ count: 'number', events: ['replica'] })
  })

  it('its test kit drives a cluster from a user project, as root and as a normal user', (ctx) => {
    requireCluster(ctx) // the PostgreSQL binaries are here
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
        console.log(JSON.stringify({ paused: paused.n, live: live.n, extension: typeof readReplicas, attached: attached.primaryUrl === cluster.primaryUrl }))
      } finally {
        await cluster.stop()
      }
    `
    writeFileSync(join(project, 'cluster-check.js'), script)
    const asUsers: string[][] = process.getuid?.() === 0 ? [[], ['runuser', '-u', 'postgres', '--']] : [[]]
    for (const prefix of asUsers) {
      const argv = [...prefix, process.execPath, 'cluster-check.js']
      const result = spawnSync(argv[0] ?? process.execPath, argv.slice(1), { cwd: project, encoding: 'utf8', timeout: 60_000 })
      expect(result.stderr).toBe('')
      expect(JSON.parse(result.stdout.trim())).toEqual({ paused: 0, live: 1, extension: 'function', attached: true })
      expect(result.status).toBe(0)
    }
  })

  it('its test kit drives a MariaDB cluster from a MariaDB-only project, without pg installed', (ctx) => {
    if (!existsSync('/usr/sbin/mariadbd')) ctx.skip('no MariaDB server binaries (apt-get install -y mariadb-server; .ci/run does)')
    // A project with the package and the mariadb driver only: the kit loads node-postgres only for PostgreSQL.
    const mariadbOnly = mkdtempSync(join('/tmp', 'prr-mariadb-only-'))
    try {
      chmodSync(mariadbOnly, 0o755)
      mkdirSync(join(mariadbOnly, 'node_modules'))
      // Copied, not linked: Node resolves the package's imports from where it really is.
      cpSync(join(project, 'node_modules', 'prisma-replica-router'), join(mariadbOnly, 'node_modules', 'prisma-replica-router'), { recursive: true })
      symlinkSync(join(root, 'node_modules', 'mariadb'), join(mariadbOnly, 'node_modules', 'mariadb'))
      writeFileSync(join(mariadbOnly, 'package.json'), JSON.stringify({ name: 'mariadb-only', private: true, type: 'module' }))
      writeFileSync(
        join(mariadbOnly, 'check.js'),
        `
        import { startLocalCluster } from 'prisma-replica-router/testing'
        const cluster = await startLocalCluster({ engine: 'mariadb', replicas: 1 })
        try {
          await cluster.runScript('primary', 'CREATE TABLE t (x int); INSERT INTO t VALUES (1);')
          await cluster.waitForReplication()
          const [row] = await cluster.query('replica-1', 'SELECT count(*) AS n FROM t')
          console.log(JSON.stringify({ n: Number(row.n) }))
        } finally {
          await cluster.stop()
        }
        `,
      )
      const result = spawnSync(process.execPath, ['check.js'], { cwd: mariadbOnly, encoding: 'utf8', timeout: 90_000 })
      expect(result.stderr).toBe('')
      expect(JSON.parse(result.stdout.trim())).toEqual({ n: 1 })
    } finally {
      rmSync(mariadbOnly, { recursive: true, force: true })
    }
  })
})
