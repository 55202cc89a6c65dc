/**
 * The router's own connections (src/router-connections.ts, src/own-connection.ts): its queries never reach the
 * application's clients, it adds at most one connection per server, it never keeps a process alive, it never
 * hangs a shutdown, and it goes quiet while the application is idle.
 */
import { spawn } from 'node:child_process'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { PrismaClient } from '../generated/prisma/client.ts'
import { readReplicas, runInScope, type HealthEvent, type ReadReplicasOptions } from '../src/index.ts'
import { APPLICATION_NAME } from '../src/own-connection.ts'
import { AUTHENTICATION_WARNING, SHARED_CONNECTIONS_WARNING } from '../src/router-connections.ts'
import { healReplicas, newClient, requireCluster, timeline, topology, unique, until, untilChecked } from './support/db.ts'
import { passwordRole } from './support/password-role.ts'
import { loggedClients } from './support/logged-clients.ts'
import { ServerActivity, withAppName } from './support/server-activity.ts'

afterEach(healReplicas)

const activity = new ServerActivity()
afterAll(() => activity.close())

/** The application name the router's connections take after the application's `app`. */
const routerApp = (app: string) => `${app} (${APPLICATION_NAME})`

type Extra = Omit<ReadReplicasOptions, 'replicas' | 'onRoute' | 'onHealthChange'>

/** A routed client whose connections (the application's and the router's) carry the application name `app`. */
function routed(app: string, options: Extra = {}, pool?: { idleTimeoutMillis?: number }) {
  const events = timeline()
  const client = (url: string) => newClient(withAppName(url, app), pool)
  const prisma = client(topology.primaryUrl).$extends(
    readReplicas({
      ...options,
      replicas: topology.replicas.map((r) => ({ client: client(r.url), name: r.name })),
      onRoute: events.onRoute,
      onHealthChange: events.onHealthChange,
    }),
  )
  return { prisma, events }
}

describe('invisible: the router’s queries never pass through the application’s clients', () => {
  it('a query log and a logging extension on every client see exactly the application’s queries (traffic through 30 health rounds at 100 ms); one router connection per server at most', async () => {
    const app = unique('invisible')
    const { names, sql, operations, logged } = loggedClients(app, (url) => new PrismaPg({ connectionString: url }))
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    const events = timeline()
    const prisma = logged('primary', topology.primaryUrl).$extends(
      readReplicas({
        replicas: topology.replicas.map((r) => ({ client: logged(r.name, r.url), name: r.name })),
        health: { intervalMs: 100 },
        onRoute: events.onRoute,
      }),
    )
    const ours = { max: {} as Record<string, number>, running: true }
    const sampler = (async () => {
      while (ours.running) {
        for (const [server, n] of Object.entries(await activity.connections(routerApp(app)))) ours.max[server] = Math.max(ours.max[server] ?? 0, n)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    // Traffic until the router has done its work alongside it: 30 health rounds and position queries (a condition,
    // not a duration: on a loaded machine 5 s held 28 rounds).
    const done = () => {
      const s = prisma.$routerStats()
      return s.healthChecks >= 30 && s.positionQueries > 0
    }
    const deadline = performance.now() + 60_000
    const worker = async () => {
      while (!done()) {
        if (performance.now() > deadline) throw new Error('timed out after 60 s waiting for 30 health rounds and a position query')
        await runInScope(async () => {
          const title = unique('invisible-note')
          await prisma.note.create({ data: { title } })
          expect(await prisma.note.findFirst({ where: { title } })).not.toBeNull() // read-your-writes: positions asked
          await prisma.note.count({ where: { title } })
        })
      }
    }
    try {
      await Promise.all([worker(), worker(), worker()])
    } finally {
      ours.running = false
      await sampler
    }
    const stats = prisma.$routerStats()
    await prisma.$disconnect()
    process.off('warning', onWarning)
    // Not even a warning of the driver (e.g. node-postgres' deprecation of queries queued on a busy client).
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([])
    const routerSql = /pg_last_wal|pg_current_wal|pg_walfile|inet_server|pg_postmaster/
    console.info(
      `checks every 100 ms: ${String(stats.healthChecks)} health rounds, ${String(stats.positionQueries)} position queries, ` +
        `${String(stats.replicaChecks)} replica checks; the clients' query logs saw ${names.map((n) => `${n} ${String(sql[n]?.length)}`).join(', ')} ` +
        `queries, none of the router's; router connections at most ${JSON.stringify(ours.max)}`,
    )
    // The router did its work meanwhile…
    expect(stats.healthChecks).toBeGreaterThanOrEqual(30)
    expect(stats.positionQueries).toBeGreaterThan(0)
    // …and none of it reached the application's clients: each replica saw exactly the reads routed to it.
    for (const name of names) {
      expect(sql[name]?.filter((q) => routerSql.test(q))).toEqual([])
      expect(operations[name]?.filter((o) => o.startsWith('.'))).toEqual([]) // no raw query: the application sent none
    }
    for (const replica of topology.replicas) {
      const routedHere = events.entries.filter((e) => e.kind === 'route' && e.replica === replica.name).length
      expect(operations[replica.name]).toHaveLength(routedHere)
      expect(sql[replica.name]).toHaveLength(routedHere)
    }
    expect(Object.values(ours.max).every((n) => n <= 1)).toBe(true)
    expect(ours.max.primary).toBe(1) // read-your-writes asked the primary for positions
  })

  it('another driver adapter: one warning, and the router’s queries go through that client (today’s behaviour)', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    const wrapped = (url: string) => {
      const inner = new PrismaPg({ connectionString: url })
      const adapter = { provider: 'postgres' as const, adapterName: 'custom-adapter', connect: () => inner.connect(), connectToShadowDb: () => inner.connectToShadowDb() }
      return new PrismaClient({ adapter })
    }
    // The warning is once per process (a test file runs in a process of its own): this is the first fallback.
    const prisma = wrapped(topology.primaryUrl).$extends(readReplicas({ replicas: topology.replicas.map((r) => wrapped(r.url)), health: { intervalMs: 100 } }))
    try {
      expect(await prisma.note.count()).toBeGreaterThanOrEqual(0)
      await untilChecked(prisma, 'the first health check')
      await until('the warning', () => warnings.some((w) => (w as { code?: string }).code === SHARED_CONNECTIONS_WARNING))
      const shared = warnings.filter((w) => (w as { code?: string }).code === SHARED_CONNECTIONS_WARNING)
      expect(shared).toHaveLength(1)
      expect(shared[0]?.message).toContain('was not built with @prisma/adapter-pg')
      expect(shared[0]?.message).not.toContain('postgresql://')
    } finally {
      process.off('warning', onWarning)
      await prisma.$disconnect()
    }
  })
})

describe('a pool built with a password: the router’s own connections authenticate as the application’s do', () => {
  const role = 'prr_password_user'
  const password = 'S3cret-router-Passw0rd'
  /** `new PrismaPg(new pg.Pool({ host, port, user, password, database }))`: node-postgres keeps the password non-enumerable. */
  const pooled = (url: string, secret: string) => {
    const { hostname, port, pathname } = new URL(url)
    const pool = new pg.Pool({ host: hostname, port: Number(port), user: role, password: secret, database: pathname.slice(1), max: 4 })
    return { client: new PrismaClient({ adapter: new PrismaPg(pool) }), pool }
  }

  it('read-your-writes reads are served by replicas, maxLag measures lag (replicas up); no warning', async (ctx) => {
    const c = requireCluster(ctx)
    await passwordRole(c, role, password)
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    const primary = pooled(topology.primaryUrl, password)
    const replicas = topology.replicas.map((r) => ({ ...pooled(r.url, password), name: r.name }))
    const targets: string[] = []
    const prisma = primary.client.$extends(
      readReplicas({
        replicas: replicas.map((r) => ({ client: r.client, name: r.name })),
        maxLag: { ms: 5_000 },
        health: { intervalMs: 50 },
        onRoute: (e) => {
          if (e.operation === 'findUnique') targets.push(e.target)
        },
      }),
    )
    try {
      await prisma.note.count() // the health check starts with the first query
      await until('a health round that measured lag', () => prisma.$routerStats().healthChecks >= 2 && prisma.$replicaStatus().every((r) => r.lag !== undefined))
      expect(prisma.$replicaStatus().map((r) => `${r.name} ${r.state}`)).toEqual(topology.replicas.map((r) => `${r.name} up`))
      await runInScope(async () => {
        for (let i = 0; i < 20; i++) {
          const note = await prisma.note.create({ data: { title: unique('password') } })
          expect(await prisma.note.findUnique({ where: { id: note.id } })).not.toBeNull()
        }
      })
      const onReplicas = targets.filter((t) => t === 'replica').length
      console.info(`pool with a password: ${String(onReplicas)}/20 read-your-writes reads on replicas`)
      // Without the password the router's connections cannot check replay positions: 0 of 20 (before the fix).
      expect(onReplicas).toBeGreaterThanOrEqual(16)
      expect(warnings.filter((w) => (w as { code?: string }).code === AUTHENTICATION_WARNING)).toEqual([])
    } finally {
      process.off('warning', onWarning)
      await prisma.$disconnect()
      await Promise.all([primary.pool.end(), ...replicas.map((r) => r.pool.end())])
    }
  })

  it('credentials a server refuses: one warning per server, naming it, never the password or a URL', async (ctx) => {
    const c = requireCluster(ctx)
    await passwordRole(c, role, password)
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    const wrong = 'wrong-Passw0rd-42'
    const primary = pooled(topology.primaryUrl, wrong)
    const replicas = topology.replicas.map((r) => ({ ...pooled(r.url, wrong), name: r.name }))
    // maxLag: the health check also samples the primary's position, so the router contacts every server.
    const prisma = primary.client.$extends(readReplicas({ replicas: replicas.map((r) => ({ client: r.client, name: r.name })), maxLag: { ms: 5_000 }, health: { intervalMs: 50 } }))
    const refused = () => warnings.filter((w) => (w as { code?: string }).code === AUTHENTICATION_WARNING)
    try {
      // The application's own query fails the same way (the router uses the same settings).
      await expect(prisma.note.count()).rejects.toThrow()
      await until('a warning for every server', () => refused().length >= 1 + replicas.length)
      await until('several more health rounds', () => prisma.$routerStats().healthChecks >= 6)
      const messages = refused().map((w) => w.message)
      expect(messages).toHaveLength(1 + replicas.length)
      expect(messages.filter((m) => m.includes('the primary refused'))).toHaveLength(1)
      for (const r of replicas) expect(messages.filter((m) => m.includes(`replica \`${r.name}\` refused`))).toHaveLength(1)
      for (const m of messages) {
        expect(m).toContain('28P01')
        expect(m).not.toContain(wrong)
        expect(m).not.toContain(password)
        expect(m).not.toContain('postgresql://')
      }
    } finally {
      process.off('warning', onWarning)
      await prisma.$disconnect()
      await Promise.all([primary.pool.end(), ...replicas.map((r) => r.pool.end())])
    }
  })
})

/** Runs `script` (ESM, in the repository root) in a child process; resolves with its wall time and exit code. */
function runChild(script: string, env: Record<string, string>, timeoutMs = 40_000): Promise<{ ms: number; code: number | null; stdout: string; stderr: string }> {
  const started = performance.now()
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ ms: performance.now() - started, code, stdout, stderr })
    })
  })
}

describe('lifetime: the router never keeps a process alive, and never hangs a shutdown', () => {
  it('$disconnect() under 30 concurrent readers: once it returns, no read is counted in flight ($replicaStatus().inFlight 0)', async () => {
    const { prisma } = routed('inflight-disconnect')
    await prisma.note.count()
    let stop = false
    let reads = 0
    // Reads sent while a Prisma client disconnects may never settle (a plain client's do not either): not awaited.
    const readers: Promise<void>[] = Array.from({ length: 30 }, async () => {
      while (!stop) {
        await Promise.resolve(prisma.note.findMany({ take: 5 })).catch(() => undefined)
        reads += 1
      }
    })
    await until('reads flowing', () => reads >= 100)
    const inFlightBefore = prisma.$replicaStatus().reduce((sum, r) => sum + r.inFlight, 0)
    await prisma.$disconnect()
    stop = true
    expect(inFlightBefore).toBeGreaterThan(0)
    expect(prisma.$replicaStatus().map((r) => r.inFlight)).toEqual(topology.replicas.map(() => 0))
    expect(readers).toHaveLength(30)
  })

  it('a script that writes, reads once and never calls $disconnect() exits by itself, as a plain client’s does, also with checks that never pause', async () => {
    // Pools that close idle connections after 2 s (pg's default: 10 s): the process exits when they do.
    const script = `
      const { PrismaPg } = await import('@prisma/adapter-pg')
      const { PrismaClient } = await import('./generated/prisma/client.ts')
      const { readReplicas, runInScope } = await import('./src/index.ts')
      const client = (url) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url, idleTimeoutMillis: 2000 }) })
      const base = client(process.env.P)
      const health = process.env.ROUTED === 'never-idle' ? { idleAfterMs: false } : {}
      const prisma = process.env.ROUTED ? base.$extends(readReplicas({ replicas: JSON.parse(process.env.R).map(client), health })) : base
      await runInScope(async () => {
        const note = await prisma.note.create({ data: { title: 'exit-' + process.pid } })
        if (!(await prisma.note.findFirst({ where: { id: note.id } }))) throw new Error('not found')
      })
    `
    const env = { P: topology.primaryUrl, R: JSON.stringify(topology.replicas.map((r) => r.url)) }
    // `idleAfterMs: false`: the health check and the router's own connections run until $disconnect(), which never
    // comes. Had any of them a reference on the event loop, that process would never exit (killed after 40 s:
    // code null). A condition, not a comparison of wall times: those a loaded machine stretches.
    const [plain, routedRun, neverIdle] = await Promise.all([
      runChild(script, env),
      runChild(script, { ...env, ROUTED: 'default' }),
      runChild(script, { ...env, ROUTED: 'never-idle' }),
    ])
    console.info(
      `exit without $disconnect(): plain client ${(plain.ms / 1000).toFixed(1)} s, routed ${(routedRun.ms / 1000).toFixed(1)} s, ` +
        `routed with checks that never pause ${(neverIdle.ms / 1000).toFixed(1)} s`,
    )
    expect([plain.code, plain.stderr]).toEqual([0, ''])
    expect([routedRun.code, routedRun.stderr]).toEqual([0, ''])
    expect([neverIdle.code, neverIdle.stderr]).toEqual([0, ''])
  })

  it('…but it keeps it alive while a read waits for the router (pools that let the process exit when idle)', async () => {
    // allowExitOnIdle: nothing of the application keeps the process alive between queries. A read that waits
    // for the primary's position or a replica check on the router's connection must still finish.
    const script = `
      const { PrismaPg } = await import('@prisma/adapter-pg')
      const { PrismaClient } = await import('./generated/prisma/client.ts')
      const { readReplicas, runInScope } = await import('./src/index.ts')
      const client = (url) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url, allowExitOnIdle: true }) })
      const prisma = client(process.env.P).$extends(readReplicas({ replicas: JSON.parse(process.env.R).map(client), health: { idleAfterMs: 0 } }))
      // Before the first round no replica can serve a read after a write (it goes to the primary at once): wait for it.
      const { untilChecked } = await import('./test/support/until.ts')
      await prisma.note.count()
      await untilChecked(prisma)
      let found = 0
      for (let i = 0; i < 20; i++) {
        await runInScope(async () => {
          const note = await prisma.note.create({ data: { title: 'alive-' + process.pid + '-' + i } })
          if (await prisma.note.findFirst({ where: { id: note.id } })) found++
          if (await prisma.note.findFirst({ where: { id: note.id } })) found++
        })
        await new Promise((resolve) => setImmediate(resolve))
      }
      console.log('found ' + found + ' stats ' + JSON.stringify(prisma.$routerStats()))
    `
    const run = await runChild(script, { P: topology.primaryUrl, R: JSON.stringify(topology.replicas.map((r) => r.url)) })
    console.info(`allowExitOnIdle pools, 20 write-then-read scopes: exit ${String(run.code)} after ${(run.ms / 1000).toFixed(1)} s; ${run.stdout.trim()}`)
    expect([run.code, run.stderr]).toEqual([0, ''])
    expect(run.stdout).toMatch(/^found 40 stats .*"positionQueries":[1-9]/)
  })

  it('30 routed clients used once and dropped release every connection, theirs and the router’s, as 30 plain clients do', async () => {
    const plainApp = unique('dropped-plain')
    const routedApp = unique('dropped-routed')
    const use = async (create: (title: string) => Promise<{ id: number }>, find: (id: number) => Promise<unknown>) => {
      await runInScope(async () => {
        const note = await create(unique('dropped'))
        await find(note.id)
      })
    }
    const clients = Array.from({ length: 30 }, () => ({
      plain: newClient(withAppName(topology.primaryUrl, plainApp)),
      routed: routed(routedApp).prisma,
    }))
    // Both sets used at the same time, each client once; then dropped (never disconnected). The connections each
    // set holds are sampled while they run: the routers' own close when idle, maybe before the uses end.
    const lastUse = { plain: 0, routed: 0 }
    const opened = { plain: 0, routed: 0 }
    const using = { on: true }
    const sampling = (async () => {
      while (using.on) {
        opened.plain = Math.max(opened.plain, await activity.totalConnections(plainApp))
        opened.routed = Math.max(opened.routed, await activity.totalConnections(routedApp))
      }
    })()
    await Promise.all(
      clients.flatMap(({ plain, routed: prisma }) => [
        use(
          (title) => plain.note.create({ data: { title } }),
          (id) => plain.note.findFirst({ where: { id } }),
        ).then(() => (lastUse.plain = performance.now())),
        use(
          (title) => prisma.note.create({ data: { title } }),
          (id) => prisma.note.findFirst({ where: { id } }),
        ).then(() => (lastUse.routed = performance.now())),
      ]),
    )
    using.on = false
    await sampling
    // And once after: the clients' pools keep theirs until idle.
    opened.plain = Math.max(opened.plain, await activity.totalConnections(plainApp))
    opened.routed = Math.max(opened.routed, await activity.totalConnections(routedApp))
    clients.length = 0
    const released: Record<string, number> = {}
    await until(
      'both sets of clients released every connection',
      async () => {
        for (const [kind, app] of [
          ['plain', plainApp],
          ['routed', routedApp],
        ] as const) {
          if (released[kind] === undefined && (await activity.totalConnections(app)) === 0) released[kind] = performance.now() - lastUse[kind]
        }
        return released.plain !== undefined && released.routed !== undefined
      },
      40_000,
    )
    console.info(
      `30 clients used once and dropped: connections ${String(opened.plain)} plain / ${String(opened.routed)} routed (theirs and the router's), ` +
        `all released ${((released.plain ?? 0) / 1000).toFixed(1)} s after their last query plain, ${((released.routed ?? 0) / 1000).toFixed(1)} s routed`,
    )
    // Released at all is the condition (a leak never is: the wait above fails); how soon, against the plain
    // clients, is printed, not asserted (a loaded machine stretched it to 6.4 s against 3.1 s once).
    expect(opened.routed).toBeGreaterThan(opened.plain) // the routers' own connections were there
  })

  it('a frozen replica: $disconnect() returns while it is still frozen, and no connection is left on any server once it thaws', async (ctx) => {
    const cluster = requireCluster(ctx)
    const app = unique('frozen')
    const readTimeoutMs = 1000
    // The pool closes the connection it holds on the frozen server 2 s after the thaw (10 s by default).
    const { prisma, events } = routed(app, { readTimeoutMs, sticky: false, health: { intervalMs: 200, timeoutMs: 200 } }, { idleTimeoutMillis: 2000 })
    for (let i = 0; i < 4; i++) await prisma.note.count()
    await cluster.freezeReplica('replica-1')
    let disconnectMs: number
    let returned: boolean
    try {
      // Reads on their way to the frozen server are given up after readTimeoutMs and answered elsewhere…
      const reads = await Promise.all(Array.from({ length: 8 }, () => prisma.note.count()))
      expect(reads.every((n) => n >= 0)).toBe(true)
      expect(events.health('replica-1', 'down'), `events: ${JSON.stringify(events.entries)}`).toBeDefined()
      // …but their connections in replica-1's pool wait for the server. A graceful shutdown must not.
      // The condition: it returns while the server is still frozen (the thaw waits for it, up to 30 s).
      const started = performance.now()
      returned = await Promise.race([
        prisma.$disconnect().then(() => true),
        new Promise<false>((resolve) => {
          setTimeout(() => {
            resolve(false)
          }, 30_000)
        }),
      ])
      disconnectMs = performance.now() - started
    } finally {
      await cluster.thawReplica('replica-1')
    }
    let left: Record<string, number> = {}
    await until('no connection of the application or the router on any server', async () => {
      left = await activity.connections(app)
      return Object.values(left).every((n) => n === 0)
    })
    console.info(
      `frozen replica-1: $disconnect() took ${disconnectMs.toFixed(0)} ms (readTimeoutMs ${String(readTimeoutMs)}); connections left after the thaw ${JSON.stringify(left)}`,
    )
    expect(returned).toBe(true)
  })
})

describe('idle: no query of the router reaches any server while the application sends none', () => {
  it('checks stop after idleAfterMs and the router’s connections close; the first read after idle is routed correctly, with at most one retry for a replica that died meanwhile', async (ctx) => {
    const cluster = requireCluster(ctx)
    const app = unique('idle')
    const idleAfterMs = 400
    const { prisma, events } = routed(app, { health: { intervalMs: 50, idleAfterMs } })
    const title = unique('idle-note')
    await runInScope(async () => {
      await prisma.note.create({ data: { title } })
      await prisma.note.findFirst({ where: { title } })
    })
    const lastQuery = performance.now()
    // The first round runs once the first query has settled (HealthMonitor.sent): connections opened.
    await untilChecked(prisma)
    await until('the router’s connections closed on every server', async () => (await activity.totalConnections(routerApp(app))) === 0, 10_000)
    const idleAt = performance.now()
    const checks = prisma.$routerStats().healthChecks
    // A window of idleness, watched on the servers: no connection of the router appears, no check runs.
    let seen = 0
    await until('1 s of idleness watched', async () => {
      seen = Math.max(seen, await activity.totalConnections(routerApp(app)))
      return performance.now() - idleAt >= 1000
    })
    console.info(
      `idleAfterMs ${String(idleAfterMs)}: the router's connections closed ${(idleAt - lastQuery).toFixed(0)} ms after the last query; ` +
        `then 1 s with ${String(seen)} router connections and ${String(prisma.$routerStats().healthChecks - checks)} health checks`,
    )
    expect(seen).toBe(0)
    expect(prisma.$routerStats().healthChecks).toBe(checks)

    // replica-1 dies while the application is idle; the first read after idle still succeeds, correctly, with at
    // most one retry (it may be sent to replica-1 before the check that resumes with it has run).
    await cluster.stopReplica('replica-1')
    const before = prisma.$routerStats().retries
    expect((await prisma.note.findFirst({ where: { title } }))?.title).toBe(title)
    expect(prisma.$routerStats().retries - before).toBeLessThanOrEqual(1)
    await until('replica-1 out of rotation', () => prisma.$replicaStatus()[0]?.state === 'down')
    const found = await Promise.all(Array.from({ length: 4 }, () => prisma.note.findFirst({ where: { title } })))
    expect(found.map((n) => n?.title)).toEqual([title, title, title, title])
    expect(prisma.$routerStats().retries - before).toBeLessThanOrEqual(1)
    const down = events.entries.find((e): e is { at: number; kind: 'health' } & HealthEvent => e.kind === 'health' && e.replica === 'replica-1' && e.state === 'down')
    expect(down).toBeDefined()
    expect(prisma.$routerStats().healthChecks).toBeGreaterThan(checks) // checks resumed with the first query
    await prisma.$disconnect()
  })
})

describe('idle with maxLag: what the router knew of lag is as old as the pause', () => {
  it('a replica that stopped replaying while the application was idle is not served after the pause (reads within maxLag + 2 intervals)', async (ctx) => {
    const cluster = requireCluster(ctx)
    const app = unique('idle-lag')
    const intervalMs = 100
    const maxMs = 1000
    const { prisma, events } = routed(app, { sticky: false, maxLag: { ms: maxMs }, health: { intervalMs, idleAfterMs: 300 } })
    await prisma.note.count()
    await untilChecked(prisma)
    await until('idle: the router’s connections closed', async () => (await activity.totalConnections(routerApp(app))) === 0, 10_000)
    // While this instance is idle, replica-1 stops replaying and other instances write.
    await cluster.pauseReplay('replica-1')
    const writer = newClient(topology.primaryUrl)
    const title = unique('idle-lag-note')
    await writer.note.create({ data: { title } })
    const committedAt = performance.now()
    await until('the note committed longer ago than maxLag + 2 intervals', () => performance.now() - committedAt > maxMs + 2 * intervalMs)
    // Back: every read must see the note.
    const found = await Promise.all(Array.from({ length: 8 }, () => prisma.note.findFirst({ where: { title } })))
    const later: unknown[] = []
    for (let i = 0; i < 20; i++) later.push(await prisma.note.findFirst({ where: { title } }))
    const missed = [...found, ...later].filter((n) => n === null).length
    const resumedEvents = events.entries.filter((e) => e.kind === 'health' && e.at > committedAt).map((e) => (e.kind === 'health' ? `${e.replica} ${e.state} ${e.cause}` : ''))
    console.info(
      `idle, replica-1 paused meanwhile (maxLag ${String(maxMs)} ms): ${String(missed)} of 28 reads after the pause missed a note committed ${String(maxMs + 2 * intervalMs)}+ ms before; health ${JSON.stringify(resumedEvents)}`,
    )
    expect(missed).toBe(0)
    // The round that resumed with the first read may still be waiting on replica-1 (waking): wait for its verdict.
    await until('replica-1 lagging', () => prisma.$replicaStatus()[0]?.state === 'lagging')
    await Promise.all([prisma.$disconnect(), writer.$disconnect()])
  })
})

describe('$disconnect() during a health check', () => {
  it('leaves no connection of the router on any server, whenever it comes', async () => {
    const app = unique('stop-mid-round')
    const leaks: Record<string, number>[] = []
    for (const delay of [0, 1, 2, 3, 5, 8, 13]) {
      // maxLag: every round asks the primary first, then the replicas.
      const { prisma } = routed(app, { sticky: false, maxLag: { ms: 60_000 }, health: { intervalMs: 20 } })
      await prisma.note.count()
      await new Promise((resolve) => setTimeout(resolve, delay))
      await prisma.$disconnect()
      let left: Record<string, number> = {}
      // Sockets the disconnect closed are gone within moments; a connection opened after it stays for 10 s.
      await until(
        'the router’s connections closed',
        async () => {
          left = await activity.connections(routerApp(app))
          return Object.values(left).every((n) => n === 0)
        },
        3000,
      ).catch(() => leaks.push(left))
    }
    expect(leaks).toEqual([])
  })
})

describe('one connection per server, also while the health check opens a new one', () => {
  it('a reconnect while a query runs waits for that query: never two router connections to the server', async () => {
    const { OwnConnection } = await import('../src/own-connection.ts')
    const app = unique('reconnect')
    const link = new OwnConnection({ connectionString: withAppName(topology.replicas[0]!.url, app) }, 10_000)
    let most = 0
    const sampling = { on: true }
    const sampler = (async () => {
      while (sampling.on) {
        most = Math.max(most, (await activity.connections(app))['replica-1'] ?? 0)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })()
    try {
      const slow = link.query('SELECT pg_sleep(0.5)', true)
      await until('the slow query running', async () => (await activity.connections(app))['replica-1'] === 1)
      link.reconnect()
      const [, quick] = await Promise.all([slow, link.query('SELECT 1 AS one', true)])
      expect(quick).toEqual([{ one: 1 }])
    } finally {
      sampling.on = false
      await sampler
      await link.close()
    }
    expect(most).toBe(1)
  })
})
