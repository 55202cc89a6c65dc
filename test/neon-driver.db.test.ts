/**
 * `@prisma/adapter-neon` (Neon's serverless driver, PostgreSQL over WebSockets), run by the `db-neon` project
 * through the test kit's WebSocket-to-TCP proxy: the router's own queries go over connections of its own made with
 * the same driver (so they work where only WebSockets are allowed), never through the application's clients, and
 * never keep the process alive. (The core routing, read-your-writes, failover and session-checker tests run again
 * in that project with every client built this way: vitest.config.ts.)
 */
import { spawn } from 'node:child_process'
import { PrismaNeon } from '@prisma/adapter-neon'
import { afterAll, describe, expect, it } from 'vitest'
import { readReplicas, runInScope } from '../src/index.ts'
import { APPLICATION_NAME } from '../src/own-connection.ts'
import { startWebSocketProxy } from '../src/testing/websocket-proxy.ts'
import { timeline, topology, unique } from './support/db.ts'
import { testDriver, useWebSocketProxy } from './support/driver.ts'
import { loggedClients } from './support/logged-clients.ts'
import { ServerActivity } from './support/server-activity.ts'

const activity = new ServerActivity()
// A proxy of this file's own: every connection of this file's clients (the application's and the router's) is
// counted passing through it.
const proxy = await startWebSocketProxy()
useWebSocketProxy(proxy.wsProxy)
afterAll(async () => {
  await activity.close()
  await proxy.close()
})

describe.runIf(testDriver === 'neon')('Neon’s serverless driver: the router’s own connections over WebSockets', () => {
  it('query logs and a logging extension see only the application’s queries; the router’s queries take WebSocket connections of its own (at most one per server); no warning', async () => {
    const app = unique('neon-invisible')
    const { names, sql, operations, logged } = loggedClients(app, (url) => new PrismaNeon({ connectionString: url }))
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
    const ours = { max: {} as Record<string, number>, ports: new Set<number>(), routerPorts: new Set<number>() }
    const sample = async () => {
      for (const [server, n] of Object.entries(await activity.connections(`${app} (${APPLICATION_NAME})`))) ours.max[server] = Math.max(ours.max[server] ?? 0, n)
      for (const port of await activity.clientPorts(app)) ours.ports.add(port)
      for (const port of await activity.clientPorts(`${app} (${APPLICATION_NAME})`)) ours.routerPorts.add(port)
    }
    let found = 0
    try {
      for (let round = 0; round < 20; round++) {
        await Promise.all(
          Array.from({ length: 3 }, () =>
            runInScope(async () => {
              const title = unique('neon-note')
              await prisma.note.create({ data: { title } })
              if (await prisma.note.findFirst({ where: { title } })) found++ // read-your-writes: positions asked
              await prisma.note.count({ where: { title } })
            }),
          ),
        )
        await sample()
      }
    } finally {
      process.off('warning', onWarning)
    }
    const stats = prisma.$routerStats()
    await prisma.$disconnect()
    console.info(
      `Neon driver, 60 write-then-read scopes: ${String(stats.healthChecks)} health rounds, ${String(stats.positionQueries)} position queries; ` +
        `router connections at most ${JSON.stringify(ours.max)}; ${String(ours.ports.size)} connections seen on the servers (${String(ours.routerPorts.size)} of the router), ` +
        `${String(proxy.ports.size)} opened through the proxy`,
    )
    expect(found).toBe(60)
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([])
    expect(stats.positionQueries).toBeGreaterThan(0)
    const routerSql = /pg_last_wal|pg_current_wal|pg_walfile|inet_server|pg_postmaster/
    for (const name of names) {
      expect(sql[name]?.filter((q) => routerSql.test(q))).toEqual([])
      expect(operations[name]?.filter((o) => o.startsWith('.'))).toEqual([])
    }
    for (const replica of topology.replicas) {
      const routedHere = events.entries.filter((e) => e.kind === 'route' && e.replica === replica.name).length
      expect(operations[replica.name]).toHaveLength(routedHere)
    }
    // The router had its own connection to the primary, and no more than one to any server…
    expect(ours.max.primary).toBe(1)
    expect(Object.values(ours.max).every((n) => n <= 1)).toBe(true)
    // …and every connection seen on the servers (the application's and the router's) came through the WebSocket
    // proxy: its client port is one the proxy connected from.
    expect(ours.routerPorts.size).toBeGreaterThan(0)
    expect([...ours.ports].filter((port) => !proxy.ports.has(port))).toEqual([])
  })

  it('a script that writes, reads its write and never calls $disconnect() exits by itself, as with a plain client', async () => {
    const script = `
      const { neonConfig } = await import('@neondatabase/serverless')
      const { PrismaNeon } = await import('@prisma/adapter-neon')
      const ws = (await import('ws')).default
      const { PrismaClient } = await import('./generated/prisma/client.ts')
      const { readReplicas, runInScope } = await import('./src/index.ts')
      Object.assign(neonConfig, { wsProxy: process.env.W, useSecureWebSocket: false, pipelineConnect: false, webSocketConstructor: ws })
      // Pools that close idle connections after 2 s (10 s by default): the process exits when they do.
      const client = (url) => new PrismaClient({ adapter: new PrismaNeon({ connectionString: url, idleTimeoutMillis: 2000 }) })
      const base = client(process.env.P)
      const prisma = process.env.ROUTED ? base.$extends(readReplicas({ replicas: JSON.parse(process.env.R).map(client) })) : base
      if (process.env.ROUTED) {
        // Reads after a write rely on replicas once the first health round has identified them.
        await prisma.note.count()
        while (!prisma.$replicaStatus().every((s) => s.replayLsn !== undefined)) await new Promise((resolve) => setTimeout(resolve, 10))
      }
      await runInScope(async () => {
        const note = await prisma.note.create({ data: { title: 'neon-exit-' + process.pid } })
        if (!(await prisma.note.findFirst({ where: { id: note.id } }))) throw new Error('not found')
      })
      if (process.env.ROUTED) console.log(JSON.stringify(prisma.$routerStats()))
    `
    const env = { P: topology.primaryUrl, R: JSON.stringify(topology.replicas.map((r) => r.url)), W: proxy.wsProxy }
    const [plain, routed] = await Promise.all([runChild(script, env), runChild(script, { ...env, ROUTED: '1' })])
    console.info(`exit without $disconnect(), Neon driver: plain client ${(plain.ms / 1000).toFixed(1)} s, routed ${(routed.ms / 1000).toFixed(1)} s`)
    expect([plain.code, plain.stderr]).toEqual([0, ''])
    expect([routed.code, routed.stderr]).toEqual([0, ''])
    // The routed read asked the primary for its position on the router's own (WebSocket) connection.
    expect(routed.stdout).toMatch(/"positionQueries":[1-9]/)
  })
})

/** Runs `script` as an ES module in a child process (killed after `timeoutMs`: exit code null). */
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
