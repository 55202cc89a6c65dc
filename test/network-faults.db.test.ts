/**
 * Network faults between the application and one replica, through the test kit's fault-injecting TCP proxy
 * (src/testing/fault-proxy.ts; the kernel here has no netem): a blackhole (nothing delivered, nothing reset: a
 * cloud partition), half-open connections (the server's side gone without a word), a reset in the middle of a
 * result. Both replicas are reached through a proxy each — the application's clients and the router's own
 * connections alike. What must hold: no read fails while another server can serve it, reads complete while the
 * fault lasts (none waits for the network to heal), answers are the primary's, and once healed the replica
 * returns and no connection is left behind.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { readReplicas, type ReadReplicasOptions } from '../src/index.ts'
import { startFaultProxy, type FaultProxy } from '../src/testing/fault-proxy.ts'
import { newClient, requireCluster, timeline, topology, unique, until, untilChecked, waitForReplication } from './support/db.ts'

const proxies = new Map<string, FaultProxy>()
const clients: { $disconnect(): Promise<void> }[] = []

beforeAll(async () => {
  for (const replica of topology.replicas) {
    proxies.set(replica.name, await startFaultProxy({ target: { port: Number(new URL(replica.url).port) } }))
  }
})

afterEach(() => {
  for (const proxy of proxies.values()) proxy.heal()
})

afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
  await Promise.all([...proxies.values()].map((p) => p.close()))
})

const proxyOf = (name: string): FaultProxy => {
  const proxy = proxies.get(name)
  if (!proxy) throw new Error(`no proxy for ${name}`)
  return proxy
}

/** A routed client whose replicas (their clients and the router's own connections) are reached through the proxies. */
function throughProxies(options: Omit<ReadReplicasOptions, 'replicas' | 'onRoute' | 'onHealthChange'> = {}) {
  const events = timeline()
  const replicas = topology.replicas.map((r) => ({ client: newClient(proxyOf(r.name).url(r.url)), name: r.name }))
  const prisma = newClient(topology.primaryUrl).$extends(
    readReplicas({ readTimeoutMs: 300, health: { intervalMs: 100, timeoutMs: 250 }, ...options, replicas, onRoute: events.onRoute, onHealthChange: events.onHealthChange }),
  )
  clients.push(prisma)
  return { prisma, events }
}

const prefix = unique('net')
beforeAll(async () => {
  const writer = newClient(topology.primaryUrl)
  clients.push(writer)
  await writer.note.createMany({ data: Array.from({ length: 200 }, (_, i) => ({ title: `${prefix}-${String(i).padStart(3, '0')}`, content: 'x'.repeat(300) })) })
  await waitForReplication()
})

/** What every read returns (the primary's answer). */
let expected: unknown
const read = (prisma: ReturnType<typeof throughProxies>['prisma']) =>
  prisma.note.findMany({ where: { title: { startsWith: prefix } }, orderBy: { title: 'asc' }, select: { title: true } })

/**
 * Readers in a loop until `stop()`: each read's outcome and when it ended; `during()` counts the reads that ended
 * while the fault was on.
 */
function readers(prisma: ReturnType<typeof throughProxies>['prisma'], n: number) {
  const state = { running: true }
  const outcomes: { ok: boolean; error?: string; endedAt: number; wrong?: boolean }[] = []
  const loops = Array.from({ length: n }, async () => {
    while (state.running) {
      try {
        const answer = await read(prisma)
        outcomes.push({ ok: true, endedAt: performance.now(), wrong: JSON.stringify(answer) !== JSON.stringify(expected) })
      } catch (error) {
        outcomes.push({ ok: false, endedAt: performance.now(), error: error instanceof Error ? error.message.split('\n').slice(-1)[0] : String(error) })
      }
    }
  })
  return {
    outcomes,
    endedAfter: (t: number) => outcomes.filter((o) => o.endedAt > t).length,
    stop: async () => {
      state.running = false
      await Promise.all(loops)
    },
  }
}

/** A routed client through the proxies, 4 readers on it, once both replicas serve reads. */
async function underLoad() {
  const { prisma } = throughProxies()
  await read(prisma)
  await untilChecked(prisma)
  const load = readers(prisma, 4)
  await until('reads on both replicas', () => Object.values(prisma.$routerStats().routed.replicas).every((n) => n > 5))
  return { prisma, load }
}

describe('network faults between the application and a replica (fault-injecting proxy)', () => {
  beforeAll(async () => {
    const plain = newClient(topology.primaryUrl)
    clients.push(plain)
    expected = await read(plain as never)
  })

  it('a blackhole (no byte through, nothing reset): reads complete during it, 0 failed, the replica down then back; no connection left after $disconnect()', async (ctx) => {
    requireCluster(ctx)
    const { prisma, load } = await underLoad()
    const proxy = proxyOf('replica-1')
    proxy.partition()
    const partitionedAt = performance.now()
    try {
      // Reads go on and complete while the partition lasts: none waits for the network to heal.
      await until('100 reads completed during the partition', () => load.endedAfter(partitionedAt) >= 100, 30_000)
      expect(prisma.$replicaStatus().find((r) => r.name === 'replica-1')?.state).toBe('down')
    } finally {
      proxy.heal()
    }
    await until('replica-1 back in rotation', () => prisma.$replicaStatus().find((r) => r.name === 'replica-1')?.state === 'up', 30_000)
    await load.stop()
    expect(load.outcomes.filter((o) => !o.ok).map((o) => o.error)).toEqual([])
    expect(load.outcomes.filter((o) => o.wrong).length).toBe(0)
    await prisma.$disconnect()
    await until('no connection left through either proxy', () => [...proxies.values()].every((p) => p.connections === 0), 30_000)
  })

  it('half-open connections, the router’s own included (the server’s side gone without a word): 0 failed reads, reads complete', async (ctx) => {
    requireCluster(ctx)
    const { prisma, load } = await underLoad()
    const proxy = proxyOf('replica-2')
    proxy.halfOpen()
    const at = performance.now()
    await until('100 reads completed after the connections went half-open', () => load.endedAfter(at) >= 100, 30_000)
    await until('replica-2 back in rotation (new connections work)', () => prisma.$replicaStatus().find((r) => r.name === 'replica-2')?.state === 'up', 30_000)
    await load.stop()
    expect(load.outcomes.filter((o) => !o.ok).map((o) => o.error)).toEqual([])
    expect(load.outcomes.filter((o) => o.wrong).length).toBe(0)
  })

  it('a connection reset in the middle of a result: the read is served elsewhere with the whole answer', async (ctx) => {
    requireCluster(ctx)
    const { prisma, events } = throughProxies()
    await read(prisma)
    await untilChecked(prisma)
    const before = prisma.$routerStats().retries
    // Every connection to both replicas reset after 2 kB more of the server's bytes: the 200-row answer (~8 kB) never arrives whole.
    for (const proxy of proxies.values()) proxy.resetAfter(2048)
    const answers = await Promise.all(Array.from({ length: 8 }, () => read(prisma)))
    for (const proxy of proxies.values()) proxy.resetAfter(undefined)
    for (const answer of answers) expect(answer).toEqual(expected)
    expect(prisma.$routerStats().retries).toBeGreaterThan(before)
    expect(events.entries.some((e) => e.kind === 'route' && e.reason === 'retry')).toBe(true)
  })
})
