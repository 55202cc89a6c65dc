/**
 * Read-your-writes for writes that never pass through the routed client: a client an extension captured
 * (`Prisma.defineExtension((client) => …)` applied before readReplicas: the usual soft-delete recipe), a model
 * method that writes through the client it closed over, the client under the router used directly, and an
 * interactive transaction on it. They all reach the primary through one query engine, which the router observes
 * (src/prisma/engine-queries.ts): the write counts for the scope that sent it, and for no other. Replicas lag
 * 400 ms, so a read that missed the write would see the old row.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Prisma } from '../generated/prisma/client.ts'
import { readReplicas, runInScope, type RouteEvent } from '../src/index.ts'
import { healReplicas, newClient, replicaNames, requireCluster, topology, unique, waitForReplication } from './support/db.ts'

afterEach(healReplicas)

const clients: { $disconnect(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
})

/** Soft delete as the Prisma docs write it: `delete` becomes an update through the client the extension captured. */
const softDelete = Prisma.defineExtension((client) =>
  client.$extends({
    name: 'soft-delete',
    query: {
      post: {
        delete({ args }) {
          return client.post.update({ where: args.where, data: { deletedAt: new Date() } })
        },
      },
    },
  }),
)

/** A model method that writes through the client it closed over. */
const renaming = Prisma.defineExtension((client) =>
  client.$extends({
    name: 'renaming',
    model: {
      note: {
        rename(id: number, title: string) {
          return client.note.update({ where: { id }, data: { title } })
        },
      },
    },
  }),
)

function setup(sticky: false | { mode: 'lsn' } = { mode: 'lsn' }) {
  const events: RouteEvent[] = []
  const base = newClient(topology.primaryUrl)
  const replicas = topology.replicas.map((r) => ({ client: newClient(r.url), name: r.name }))
  const prisma = base
    .$extends(softDelete)
    .$extends(renaming)
    .$extends(readReplicas({ replicas, sticky, onRoute: (e) => events.push(e) }))
  clients.push(prisma, ...replicas.map((r) => r.client))
  return { base, prisma, events }
}

const routed = setup()
const control = setup(false)

async function seed() {
  const writer = newClient(topology.primaryUrl)
  try {
    const user = await writer.user.create({ data: { email: `${unique('captured')}@x` } })
    const posts = await Promise.all(Array.from({ length: 10 }, (_, i) => writer.post.create({ data: { title: `p${String(i)}`, authorId: user.id } })))
    const notes = await Promise.all(Array.from({ length: 10 }, (_, i) => writer.note.create({ data: { title: `n${String(i)}` } })))
    await waitForReplication()
    return { posts, notes }
  } finally {
    await writer.$disconnect()
  }
}

async function lag(ctx: Parameters<typeof requireCluster>[0]) {
  const cluster = requireCluster(ctx)
  for (const name of replicaNames) await cluster.setReplicaLag(name, 400)
}

type Setup = typeof routed
/** The ways of writing past the routed client, each followed at once by a read of what it wrote. */
const paths: Record<string, (s: Setup, post: { id: number }, note: { id: number }, title: string) => Promise<boolean>> = {
  'soft delete through the client a function-form extension captured (applied before the router)': async ({ prisma }, post) => {
    await prisma.post.delete({ where: { id: post.id } })
    return (await prisma.post.findUnique({ where: { id: post.id } }))?.deletedAt !== null
  },
  'a model method writing through the client it closed over': async ({ prisma }, _post, note, title) => {
    await prisma.note.rename(note.id, title)
    return (await prisma.note.findUnique({ where: { id: note.id } }))?.title === title
  },
  'the client under the router, used directly': async ({ base, prisma }, _post, note, title) => {
    await base.note.update({ where: { id: note.id }, data: { title } })
    return (await prisma.note.findFirst({ where: { id: note.id } }))?.title === title
  },
  'an interactive transaction on the client under the router (counted at its commit)': async ({ base, prisma }, _post, note, title) => {
    await base.$transaction(async (tx) => {
      await tx.note.update({ where: { id: note.id }, data: { title } })
    })
    return (await prisma.note.findMany({ where: { id: note.id } }))[0]?.title === title
  },
  'a batch transaction on the client under the router': async ({ base, prisma }, _post, note, title) => {
    await base.$transaction([base.note.update({ where: { id: note.id }, data: { title } })])
    return (await prisma.note.findUnique({ where: { id: note.id } }))?.title === title
  },
}

describe('writes past the routed client count for read-your-writes (replicas 400 ms behind)', () => {
  for (const [name, path] of Object.entries(paths)) {
    it(`${name}: 10/10 reads right after see the write`, async (ctx) => {
      await lag(ctx)
      const { posts, notes } = await seed()
      let seen = 0
      let controlSeen = 0
      for (let i = 0; i < 10; i++) {
        const post = posts[i] ?? { id: 0 }
        const note = notes[i] ?? { id: 0 }
        if (await runInScope(() => path(routed, post, note, unique('renamed')))) seen += 1
      }
      // The control (no read-your-writes) on fresh rows shows the lag is real.
      const fresh = await seed()
      for (let i = 0; i < 10; i++) {
        if (await runInScope(() => path(control, fresh.posts[i] ?? { id: 0 }, fresh.notes[i] ?? { id: 0 }, unique('renamed')))) controlSeen += 1
      }
      console.info(`${name}: ${String(seen)}/10 seen (sticky: false: ${String(controlSeen)}/10)`)
      expect(seen).toBe(10)
      expect(controlSeen).toBeLessThan(10)
    })
  }

  it('a scope’s write through the captured client does not send another scope’s reads to the primary', async (ctx) => {
    await lag(ctx)
    const { notes } = await seed()
    const note = notes[0] ?? { id: 0 }
    let release: () => void = () => undefined
    const written = new Promise<void>((resolve) => {
      release = resolve
    })
    const other = runInScope(async () => {
      await written
      const from = routed.events.length
      await routed.prisma.note.count()
      return routed.events
        .slice(from)
        .filter((e) => e.operation === 'count')
        .map((e) => e.target)
    })
    await runInScope(async () => {
      await routed.prisma.note.rename(note.id, unique('isolated'))
      release()
      expect(await routed.prisma.note.findUnique({ where: { id: note.id } })).toMatchObject({ id: note.id })
    })
    expect(await other).toEqual(['replica'])
  })

  it('reads through the client under the router are not writes; in a monotonic scope they bound later reads as reads on the primary do', async (ctx) => {
    await lag(ctx)
    const last = async () => {
      const from = routed.events.length
      await routed.prisma.note.count()
      return routed.events.slice(from).map((e) => `${e.target} ${e.reason}`)
    }
    // The client-wide scope (no monotonic reads): a read there, and a read-only transaction, leave reads on replicas.
    await routed.base.note.findMany({ take: 1 })
    await routed.base.$transaction(async (tx) => await tx.note.count())
    expect(await last()).toEqual(['replica read'])
    // A monotonic scope (runInScope), after another process's write (a client on an engine of its own): reading it
    // through the client under the router, then on a replica 400 ms behind, would go back in time.
    const elsewhere = newClient(topology.primaryUrl)
    clients.push(elsewhere)
    await runInScope(async () => {
      await elsewhere.note.create({ data: { title: unique('elsewhere') } })
      expect(await last()).toEqual(['replica read']) // the scope has not seen that write: a replica may serve it
      await routed.base.note.findMany({ take: 1 })
      expect(await last()).toEqual(['primary sticky'])
    })
  })
})

describe('queries Prisma batches in one tick (its DataLoader) count for the scope that sent each of them', () => {
  /** A model method that writes through its captured client in a batch transaction. */
  const retitle = Prisma.defineExtension((client) =>
    client.$extends({
      name: 'retitle',
      model: {
        post: {
          retitle(id: number, title: string) {
            return client.$transaction([client.post.update({ where: { id }, data: { title } })])
          },
        },
      },
    }),
  )

  it('read-your-writes: scope B’s batch write shares a tick with scope A’s findUnique; B reads its write (replay paused)', async (ctx) => {
    const c = requireCluster(ctx)
    const base = newClient(topology.primaryUrl)
    const replicas = topology.replicas.map((r) => ({ client: newClient(r.url), name: r.name }))
    const prisma = base.$extends(retitle).$extends(readReplicas({ replicas }))
    clients.push(prisma, ...replicas.map((r) => r.client))
    const user = await base.user.create({ data: { email: `${unique('tick')}@x` } })
    const post = await base.post.create({ data: { title: 'old', authorId: user.id } })
    await waitForReplication()
    await prisma.post.findMany({ take: 1 })
    let stale = 0
    for (let round = 0; round < 5; round++) {
      const title = `new-${String(round)}`
      for (const name of replicaNames) await c.pauseReplay(name)
      const [, seen] = await Promise.all([
        runInScope(() => prisma.$primary().user.findUnique({ where: { id: user.id } })), // A: first in the tick
        runInScope(async () => {
          await prisma.post.retitle(post.id, title) // B
          return (await prisma.post.findUnique({ where: { id: post.id } }))?.title
        }),
      ])
      if (seen !== title) stale += 1
      for (const name of replicaNames) await c.resumeReplay(name)
      await waitForReplication()
    }
    expect(stale).toBe(0)
  })

  it('monotonic reads: scope B reads on the client under the router in a tick with scope A; B’s next read does not go back', async (ctx) => {
    const c = requireCluster(ctx)
    const base = newClient(topology.primaryUrl)
    const replicas = topology.replicas.map((r) => ({ client: newClient(r.url), name: r.name }))
    const prisma = base.$extends(readReplicas({ replicas }))
    const elsewhere = newClient(topology.primaryUrl)
    clients.push(prisma, elsewhere, ...replicas.map((r) => r.client))
    const user = await base.user.create({ data: { email: `${unique('tick-mono')}@x` } })
    const post = await base.post.create({ data: { title: 'v0', authorId: user.id } })
    await waitForReplication()
    await prisma.post.findMany({ take: 1 })
    let violations = 0
    for (let round = 0; round < 4; round++) {
      for (const name of replicaNames) await c.pauseReplay(name)
      await elsewhere.post.update({ where: { id: post.id }, data: { title: unique('v') } }) // another process's write
      const [, reads] = await Promise.all([
        runInScope(() => base.user.findUnique({ where: { id: user.id } })), // A: first in the tick
        runInScope(async () => {
          const first = (await base.post.findUnique({ where: { id: post.id } }))?.title // B: the new version
          const second = (await prisma.post.findUnique({ where: { id: post.id } }))?.title
          return { first, second }
        }),
      ])
      if (reads.first !== reads.second) violations += 1
      for (const name of replicaNames) await c.resumeReplay(name)
      await waitForReplication()
    }
    expect(violations).toBe(0)
  })
})
