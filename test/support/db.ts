import { inject, type TestContext } from 'vitest'
import { PrismaClient } from '../../generated/prisma/client.ts'
import { readReplicas, type HealthEvent, type ReadReplicasOptions, type RouteEvent } from '../../src/index.ts'
import { LocalCluster, waitForReplay } from '../../src/testing/local-cluster.ts'
import { adapterFor, testDriver, useWebSocketProxy } from './driver.ts'
import type { TopologyInfo } from './topology-info.ts'

export const topology: TopologyInfo = inject('topology')

if (testDriver === 'neon') {
  const wsProxy = inject('wsProxy')
  if (wsProxy === undefined) throw new Error('TEST_DRIVER=neon but the global setup started no WebSocket proxy')
  useWebSocketProxy(wsProxy)
}

/** The local cluster, when the suite runs on it (faults can be injected). */
export const cluster: LocalCluster | undefined = topology.local ? LocalCluster.attach(topology.local) : undefined

/** Skips the calling test unless it can control the servers, saying why. */
export function requireCluster(ctx: TestContext): LocalCluster {
  if (!cluster) {
    return ctx.skip(`needs the local cluster to inject lag or outages; this run uses an existing topology (${topology.kind})`)
  }
  return cluster
}

export const replicaNames = topology.replicas.map((r) => r.name)

/** Waits until every replica (or the given ones) replayed all the primary wrote so far. */
export async function waitForReplication(names: readonly string[] = replicaNames): Promise<void> {
  await waitForReplay(
    topology.primaryUrl,
    topology.replicas.filter((r) => names.includes(r.name)),
  )
}

/** `pool`: settings of the driver's pool (`idleTimeoutMillis`: when it closes an idle connection; 10 s by default). */
export function newClient(url: string, pool?: { idleTimeoutMillis?: number }): PrismaClient {
  return new PrismaClient({ adapter: adapterFor(url, undefined, pool) })
}

type Extra = Omit<ReadReplicasOptions, 'replicas' | 'onRoute'>

/** A routed client over the test topology, recording every routing event. */
export function routedClient(options: Extra = {}) {
  const events: RouteEvent[] = []
  const base = newClient(topology.primaryUrl)
  const replicas = topology.replicas.map((r) => ({ client: newClient(r.url), name: r.name }))
  const prisma = base.$extends(readReplicas({ ...options, replicas, onRoute: (e) => events.push(e) }))
  return { prisma, events, base, replicas }
}

/** A routed client over the test topology, recording routing and health events in one {@link timeline}. */
export function timedClient(options: Omit<Extra, 'onHealthChange'> = {}) {
  const events = timeline()
  const replicas = topology.replicas.map((r) => ({ client: newClient(r.url), name: r.name }))
  const prisma = newClient(topology.primaryUrl).$extends(readReplicas({ ...options, replicas, onRoute: events.onRoute, onHealthChange: events.onHealthChange }))
  events.countRounds(prisma)
  return { prisma, events }
}

/** Restarts, thaws, resumes replay and removes injected lag on every replica (afterEach of fault tests). */
export async function healReplicas(): Promise<void> {
  if (!cluster) return
  for (const name of replicaNames) {
    if (cluster.isRunning(name)) await cluster.thawReplica(name)
    else await cluster.startReplica(name)
    await cluster.setReplicaLag(name, 0)
    await cluster.resumeReplay(name)
  }
  await waitForReplication()
}

let counter = 0
/** A value unique to this test run, for rows a test creates and looks up. */
export function unique(prefix: string): string {
  counter += 1
  return `${prefix}-${String(process.pid)}-${String(Date.now())}-${String(counter)}`
}

export { until, untilChecked } from './until.ts'

/** Routing and health events with the time they happened, in one timeline. */
export function timeline() {
  const entries: (({ at: number; kind: 'route' } & RouteEvent) | ({ at: number; kind: 'health'; round?: number } & HealthEvent))[] = []
  let rounds: (() => number) | undefined
  return {
    entries,
    onRoute: (e: RouteEvent) => entries.push({ at: performance.now(), kind: 'route', ...e }),
    onHealthChange: (e: HealthEvent) => entries.push({ at: performance.now(), kind: 'health', round: rounds?.(), ...e }),
    health: (replica: string, state: HealthEvent['state']) => entries.find((e) => e.kind === 'health' && e.replica === replica && e.state === state),
    /**
     * Health events from now on carry `round`: the client's health rounds started so far (`$routerStats()`), so a
     * test can bound a detection in rounds (a condition) rather than milliseconds (a timing, which a loaded machine
     * stretches).
     */
    countRounds(client: { $routerStats(): { healthChecks: number } }): void {
      rounds = () => client.$routerStats().healthChecks
    },
  }
}
