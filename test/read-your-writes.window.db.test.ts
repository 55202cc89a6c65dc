import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { runInScope } from '../src/index.ts'
import { healReplicas, replicaNames, requireCluster, routedClient, unique, waitForReplication } from './support/db.ts'

const stickyOn = routedClient({ sticky: { mode: 'window' } })
const stickyOff = routedClient({ sticky: false })

afterEach(healReplicas)
afterAll(async () => {
  await Promise.all([stickyOn.prisma.$disconnect(), stickyOff.prisma.$disconnect()])
})

type Routed = typeof stickyOn.prisma

/** `pairs` create-then-read pairs in one scope; returns how many reads missed the row just created. */
async function staleReads(prisma: Routed, pairs: number): Promise<number> {
  return await runInScope(async () => {
    let stale = 0
    for (let i = 0; i < pairs; i++) {
      const note = await prisma.note.create({ data: { title: unique('pair') } })
      const read = await prisma.note.findUnique({ where: { id: note.id } })
      if (read?.title !== note.title) stale += 1
    }
    return stale
  })
}

describe('window mode: sticky after write for windowMs', () => {
  it('with 300 ms replica lag, 200 create-then-read pairs give 0 stale reads sticky, >0 without', async (ctx) => {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    for (const name of replicaNames) await cluster.setReplicaLag(name, 300)
    const withSticky = await staleReads(stickyOn.prisma, 200)
    const withoutSticky = await staleReads(stickyOff.prisma, 200)
    console.info(`stale reads out of 200 pairs with 300 ms lag: sticky on ${String(withSticky)}, sticky off ${String(withoutSticky)}`)
    expect(withSticky).toBe(0)
    expect(withoutSticky).toBeGreaterThan(0)
  })

  it('a raw query and a transaction open the window too; reads outside it go back to replicas', async (ctx) => {
    const cluster = requireCluster(ctx)
    const { prisma, events } = routedClient({ sticky: { windowMs: 60_000 } })
    await waitForReplication()
    for (const name of replicaNames) await cluster.pauseReplay(name)
    await runInScope(async () => {
      await prisma.note.findMany({ take: 1 })
      expect(events.at(-1)?.reason).toBe('read')
      await prisma.$executeRaw`INSERT INTO "Note" (title) VALUES ('raw')`
      await prisma.note.findMany({ take: 1 })
      expect(events.at(-1)).toMatchObject({ target: 'primary', reason: 'sticky', sticky: 'window' })
    })
    await runInScope(async () => {
      await prisma.$transaction(async (tx) => tx.note.count())
      const title = unique('after-tx')
      await stickyOff.prisma.note.create({ data: { title } })
      // Pinned to the primary by the transaction: sees a row the paused replicas cannot have.
      expect(await prisma.note.findFirst({ where: { title } })).not.toBeNull()
      expect(events.at(-1)).toMatchObject({ target: 'primary', reason: 'sticky', sticky: 'window' })
    })
    await prisma.$disconnect()
  })

  it('two concurrent scopes do not pin each other', async (ctx) => {
    const cluster = requireCluster(ctx)
    const { prisma, events } = routedClient({ sticky: { windowMs: 60_000 } })
    await waitForReplication()
    for (const name of replicaNames) await cluster.pauseReplay(name)
    const title = unique('scoped')
    let release!: () => void
    const written = new Promise<void>((resolve) => (release = resolve))
    const writer = runInScope(async () => {
      await prisma.note.create({ data: { title } })
      release()
      return prisma.note.findFirst({ where: { title } })
    })
    const reader = runInScope(async () => {
      await written
      return prisma.note.findFirst({ where: { title } })
    })
    const [seenByWriter, seenByReader] = await Promise.all([writer, reader])
    expect(seenByWriter?.title).toBe(title) // the writer's scope is pinned to the primary
    expect(seenByReader).toBeNull() // the other scope still reads a (paused) replica
    const reads = events.filter((e) => e.operation === 'findFirst')
    expect(reads.map((e) => e.reason).sort()).toEqual(['read', 'sticky'])
    await prisma.$disconnect()
  })

  it('outside any scope the client itself is the scope; sticky: false never pins', async (ctx) => {
    const cluster = requireCluster(ctx)
    const pinned = routedClient({ sticky: { windowMs: 60_000 } })
    await waitForReplication()
    for (const name of replicaNames) await cluster.pauseReplay(name)
    const title = unique('client-scope')
    await pinned.prisma.note.create({ data: { title } })
    expect(await pinned.prisma.note.findFirst({ where: { title } })).not.toBeNull()
    await stickyOff.prisma.note.create({ data: { title: title + '-off' } })
    expect(await stickyOff.prisma.note.findFirst({ where: { title: title + '-off' } })).toBeNull()
    await pinned.prisma.$disconnect()
  })
})
