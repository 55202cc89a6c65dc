import { spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { healReplicas, newClient, requireCluster, timedClient, topology, unique, until } from './support/db.ts'

afterEach(healReplicas)

/** A routed client without read-your-writes whose replicas leave rotation over `maxMs` of lag. */
function lagLimited(maxMs: number, intervalMs: number) {
  return timedClient({ sticky: false, maxLag: { ms: maxMs }, health: { intervalMs } })
}

describe('lag-aware routing (replay paused for real)', () => {
  it('maxLag 500 ms: a frozen replica leaves rotation, no read it serves is staler than the bound, and it comes back', async (ctx) => {
    const cluster = requireCluster(ctx)
    const maxMs = 500
    const intervalMs = 200
    const writer = newClient(topology.primaryUrl)
    const { prisma, events } = lagLimited(maxMs, intervalMs)
    const prefix = unique('lag')
    // The writer commits a row every few ms and remembers when each was committed (by its own clock).
    const committedAt = new Map<number, number>()
    const run = { writing: true, reading: true }
    const written = (async () => {
      while (run.writing) {
        const note = await writer.note.create({ data: { title: `${prefix}-${String(committedAt.size)}` } })
        committedAt.set(note.id, performance.now())
      }
    })()
    const ids = () => [...committedAt.keys()]
    /** How long the newest row a read missed had been committed when the read started (0: it missed none). */
    const staleness = (seenId: number, readAt: number) => {
      const missed = ids().filter((id) => id > seenId && (committedAt.get(id) ?? Infinity) < readAt)
      return missed.length === 0 ? 0 : readAt - Math.min(...missed.map((id) => committedAt.get(id) ?? readAt))
    }
    // One sequential reader: the route event just before each read is that read's.
    const reads: { replica: string | undefined; staleness: number; at: number }[] = []
    const reader = (async () => {
      while (run.reading) {
        const readAt = performance.now()
        const newest = await prisma.note.findFirst({ where: { title: { startsWith: prefix } }, orderBy: { id: 'desc' } })
        const route = events.entries.findLast((e) => e.kind === 'route')
        reads.push({ replica: route?.kind === 'route' ? route.replica : undefined, staleness: staleness(newest?.id ?? 0, readAt), at: readAt })
      }
    })()
    try {
      await until('some reads on both replicas', () => new Set(reads.map((r) => r.replica)).size >= 2)
      const pausedAt = performance.now()
      await cluster.pauseReplay('replica-1')
      await until('replica-1 lagging', () => events.health('replica-1', 'lagging') !== undefined, 10_000)
      const firstLagging = events.health('replica-1', 'lagging')!
      await until('1 s more of reads', () => performance.now() - firstLagging.at > 1000)
      // On a loaded machine a slow round can make it lag before the pause shows (what the primary may have
      // committed during the round), then catch up: the exclusion that holds is the last one.
      const lagging = events.entries.findLast((e) => e.kind === 'health' && e.replica === 'replica-1' && e.state === 'lagging')!
      const fromPaused = reads.filter((r) => r.replica === 'replica-1' && r.at >= pausedAt)
      const worst = Math.max(0, ...fromPaused.map((r) => r.staleness))
      const afterExclusion = reads.filter((r) => r.at > lagging.at && r.replica === 'replica-1')
      const status = prisma.$replicaStatus().find((r) => r.name === 'replica-1')!
      console.info(
        `replay paused on replica-1 (maxLag ${String(maxMs)} ms, health every ${String(intervalMs)} ms): lagging after ` +
          `${(lagging.at - pausedAt).toFixed(0)} ms with lag ${JSON.stringify(lagging.kind === 'health' ? lagging.lag : undefined)}; ` +
          `${String(fromPaused.length)} reads served by it after the pause, worst staleness ${worst.toFixed(0)} ms; ` +
          `status ${JSON.stringify({ state: status.state, lag: status.lag, replayLsn: status.replayLsn })}`,
      )
      expect(lagging).toMatchObject({ replica: 'replica-1', state: 'lagging', cause: 'lag-ms' })
      expect(afterExclusion).toEqual([])
      // Lag is measured once per interval: a read can be at most maxLag + 2 intervals stale (docs/health-and-failover.md).
      expect(worst).toBeLessThanOrEqual(maxMs + 2 * intervalMs)
      expect(status.state).toBe('lagging')
      expect(status.lag?.ms).toBeGreaterThan(maxMs)
      expect(status.lag?.bytes).toBeGreaterThan(0)
      expect(status.replayLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
      expect(prisma.$replicaStatus().find((r) => r.name === 'replica-2')!.state).toBe('up')

      const resumedAt = performance.now()
      await cluster.resumeReplay('replica-1')
      await until('replica-1 up again', () => events.entries.some((e) => e.kind === 'health' && e.replica === 'replica-1' && e.state === 'up' && e.at > resumedAt), 10_000)
      const back = reads.length
      await until('replica-1 serves reads again', () => reads.slice(back).some((r) => r.replica === 'replica-1'))
    } finally {
      run.reading = false
      run.writing = false
      await Promise.all([reader, written])
      await Promise.all([prisma.$disconnect(), writer.$disconnect()])
    }
  })

  it('maxLag in bytes: a replica more than N bytes of WAL behind leaves rotation', async (ctx) => {
    const cluster = requireCluster(ctx)
    const { prisma, events } = timedClient({ maxLag: { bytes: 64 * 1024 }, health: { intervalMs: 100 } })
    await prisma.$connect()
    await cluster.pauseReplay('replica-2')
    await prisma.note.createMany({ data: Array.from({ length: 2000 }, (_, i) => ({ title: `bytes-${String(i)}`, content: 'x'.repeat(100) })) })
    await until('replica-2 lagging by bytes', () => events.health('replica-2', 'lagging') !== undefined, 10_000)
    const lagging = events.health('replica-2', 'lagging')!
    expect(lagging).toMatchObject({ cause: 'lag-bytes' })
    expect(lagging.kind === 'health' && lagging.lag!.bytes).toBeGreaterThan(64 * 1024)
    await cluster.resumeReplay('replica-2')
    await until('replica-2 caught up', () => events.entries.some((e) => e.kind === 'health' && e.replica === 'replica-2' && e.state === 'up'), 10_000)
    await prisma.$disconnect()
  })

  it('an idle primary does not make caught-up replicas look lagging (unlike now() - pg_last_xact_replay_timestamp())', async () => {
    const maxMs = 250
    const { prisma, events } = timedClient({ maxLag: { ms: maxMs }, health: { intervalMs: 20 } })
    await prisma.$connect()
    // Idle for longer than maxLag with checks every 20 ms: a lag counted from the last replayed commit would
    // exceed it. Ours is what the primary may have committed since the round asked its position (a round's time).
    await until('status measured', () => prisma.$replicaStatus().every((r) => r.lag !== undefined))
    const since = performance.now()
    await until('400 ms of idle checks', () => performance.now() - since > 400)
    const status = prisma.$replicaStatus()
    console.info(`idle primary, maxLag ${String(maxMs)} ms: ${JSON.stringify(status.map((r) => [r.state, r.lag]))}`)
    expect(status.map((r) => [r.state, r.lag?.bytes])).toEqual([
      ['up', 0],
      ['up', 0],
    ])
    for (const r of status) expect(r.lag?.ms).toBeLessThanOrEqual(maxMs)
    expect(events.entries.map((e) => (e.kind === 'health' ? `${e.replica} ${e.state} ${e.cause}` : e.kind))).toEqual([])
    await prisma.$disconnect()
  })
})

describe('maxLag after an outage', () => {
  it('a replica that went down while lagging comes back lagging: its lag counts from before the outage', async (ctx) => {
    const cluster = requireCluster(ctx)
    const maxMs = 1000
    const writer = newClient(topology.primaryUrl)
    const { prisma, events } = lagLimited(maxMs, 100)
    const prefix = unique('outage')
    const run = { writing: true }
    let written = 0
    // Writes all along, so the primary's position keeps moving (each health check records a new sample).
    const writing = (async () => {
      while (run.writing) {
        await writer.note.create({ data: { title: `${prefix}-${String(written)}` } })
        written += 1
      }
    })()
    try {
      await prisma.$connect()
      // Commits reach replica-1 4 s late: its lag is ~4 s, over maxLag, and stays so across a restart.
      await cluster.setReplicaLag('replica-1', 4000)
      await until('replica-1 lagging', () => events.health('replica-1', 'lagging') !== undefined, 15_000)
      await cluster.stopReplica('replica-1')
      await until('replica-1 down', () => events.entries.some((e) => e.kind === 'health' && e.replica === 'replica-1' && e.state === 'down'), 10_000)
      // Meanwhile replica-2 replays everything: a tracker that forgets samples below replica-2 forgets replica-1's.
      const target = await cluster.primaryLsn()
      await until('replica-2 past the position after the outage began', async () => {
        const [row] = await cluster.query<{ ok: boolean }>('replica-2', 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [target])
        return row?.ok === true
      })
      const lastUpAt = Math.max(...events.entries.filter((e) => e.kind === 'health' && e.replica === 'replica-2').map((e) => e.at), 0)
      await until('two more health checks', () => prisma.$replicaStatus()[1]!.lag !== undefined && performance.now() - lastUpAt > 300)
      const restartedAt = performance.now()
      await cluster.startReplica('replica-1')
      await until('replica-1 answers again', () => events.entries.some((e) => e.kind === 'health' && e.replica === 'replica-1' && e.at > restartedAt), 15_000)
      const back = events.entries.find((e) => e.kind === 'health' && e.replica === 'replica-1' && e.at > restartedAt)
      console.info(`replica-1 back after an outage with 4 s of apply delay: ${JSON.stringify(back)}`)
      expect(back).toMatchObject({ state: 'lagging', cause: 'lag-ms' })
      expect(back?.kind === 'health' && back.lag?.ms).toBeGreaterThan(maxMs)
    } finally {
      run.writing = false
      await writing
      await Promise.all([prisma.$disconnect(), writer.$disconnect()])
    }
  })
})

describe('health check lifecycle', () => {
  it('leaves no open handles: the process exits by itself after $disconnect()', async () => {
    const script = `
      const { PrismaPg } = await import('@prisma/adapter-pg')
      const { PrismaClient } = await import('./generated/prisma/client.ts')
      const { readReplicas } = await import('./src/index.ts')
      const client = (url) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })
      const prisma = client(process.env.P).$extends(readReplicas({ replicas: process.env.R.split(',').map(client), health: { intervalMs: 10 } }))
      for (let i = 0; i < 20; i++) await prisma.note.count()
      await prisma.$disconnect()
      console.log('disconnected')
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, P: topology.primaryUrl, R: topology.replicas.map((r) => r.url).join(',') },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(output.trim()).toBe('disconnected')
    expect(code).toBe(0)
  })
})
