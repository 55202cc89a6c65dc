import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Prisma as GeneratedPrisma } from '../generated/prisma/client.ts'
import { isReplicaInTransactionError, isReplicaWriteError, isUnknownReplicaError, readReplicas, UnknownReplicaError, runInScope } from '../src/index.ts'
import { healReplicas, newClient, replicaNames, requireCluster, routedClient, topology, unique, waitForReplication } from './support/db.ts'

const { prisma, events, base } = routedClient({ sticky: false })
const sticky = routedClient()
const plain = newClient(topology.primaryUrl)

afterEach(healReplicas)
afterAll(async () => {
  await Promise.all([prisma.$disconnect(), sticky.prisma.$disconnect(), plain.$disconnect()])
})

async function pauseAll(ctx: Parameters<typeof requireCluster>[0]): Promise<void> {
  const c = requireCluster(ctx)
  await waitForReplication()
  for (const name of replicaNames) await c.pauseReplay(name)
}

describe('routing, proven by data: replicas paused, so only the primary has fresh rows', () => {
  it('sends reads to a replica (stale) and writes to the primary (fresh)', async (ctx) => {
    await pauseAll(ctx)
    const email = unique('routing') + '@x'
    const created = await prisma.user.create({ data: { email } })
    // Every read kind misses the row: they ran on paused replicas.
    expect(await prisma.user.findUnique({ where: { email } })).toBeNull()
    expect(await prisma.user.findFirst({ where: { email } })).toBeNull()
    expect(await prisma.user.findMany({ where: { email } })).toEqual([])
    expect(await prisma.user.count({ where: { email } })).toBe(0)
    expect((await prisma.user.aggregate({ where: { email }, _count: { _all: true } }))._count._all).toBe(0)
    expect(await prisma.user.groupBy({ by: ['email'], where: { email } })).toEqual([])
    await expect(prisma.user.findUniqueOrThrow({ where: { email } })).rejects.toThrow()
    await expect(prisma.user.findFirstOrThrow({ where: { email } })).rejects.toThrow()
    // The write went to the primary: it is there, and updates/deletes of it succeed.
    expect(await base.user.findUnique({ where: { email } })).toMatchObject({ id: created.id })
    await prisma.user.update({ where: { id: created.id }, data: { name: 'updated' } })
    expect((await base.user.findUnique({ where: { email } }))?.name).toBe('updated')
    const reads = events.filter((e) => e.model === 'User' && e.reason === 'read')
    expect(reads.length).toBeGreaterThanOrEqual(8)
    expect(reads.every((e) => e.target === 'replica' && replicaNames.includes(e.replica ?? ''))).toBe(true)
  })

  it('$primary() sees a fresh write', async (ctx) => {
    await pauseAll(ctx)
    const email = unique('primary') + '@x'
    await prisma.user.create({ data: { email } })
    expect(await prisma.user.findUnique({ where: { email } })).toBeNull()
    expect(await prisma.$primary().user.findUnique({ where: { email } })).toMatchObject({ email })
    expect(events.at(-1)).toEqual({ model: 'User', operation: 'findUnique', target: 'primary', reason: 'forced-primary' })
  })

  it('an interactive transaction sees its own writes, reads included', async (ctx) => {
    await pauseAll(ctx)
    const email = unique('itx') + '@x'
    const seen = await prisma.$transaction(async (tx) => {
      await tx.user.create({ data: { email } })
      return [await tx.user.findUnique({ where: { email } }), await tx.user.count({ where: { email } })]
    })
    expect(seen).toEqual([expect.objectContaining({ email }), 1])
    expect(await prisma.user.findUnique({ where: { email } })).toBeNull()
  })

  it('a batch transaction sees its own writes, reads included', async (ctx) => {
    await pauseAll(ctx)
    const email = unique('batch') + '@x'
    const [, found, count] = await prisma.$transaction([
      prisma.user.create({ data: { email } }),
      prisma.user.findUnique({ where: { email } }),
      prisma.user.count({ where: { email } }),
    ])
    expect(found).toMatchObject({ email })
    expect(count).toBe(1)
    expect(events.slice(-3).map((e) => [e.operation, e.target, e.reason])).toEqual([
      ['create', 'primary', 'transaction'],
      ['findUnique', 'primary', 'transaction'],
      ['count', 'primary', 'transaction'],
    ])
  })

  it('raw queries go to the primary; $replica().$queryRaw runs on a replica', async () => {
    const [{ standby: onRouted } = { standby: undefined }] = await prisma.$queryRaw<{ standby: boolean }[]>`SELECT pg_is_in_recovery() AS standby`
    expect(onRouted).toBe(false)
    for (const name of replicaNames) {
      const rows = await prisma.$replica(name).$queryRaw<{ standby: boolean }[]>`SELECT pg_is_in_recovery() AS standby`
      expect(rows[0]?.standby).toBe(true)
      expect(events.at(-1)).toEqual({ model: undefined, operation: '$queryRaw', target: 'replica', replica: name, reason: 'forced-replica' })
    }
    const executed = await prisma.$replica().$executeRaw`SELECT 1`
    expect(executed).toBeTypeOf('number')
  })
})

describe('$primary() and $replica() (drop-in with @prisma/extension-read-replicas)', () => {
  it('$primary() inside a transaction returns the transaction client', async () => {
    await prisma.$transaction(async (tx) => {
      expect(tx.$primary()).toBe(tx)
      await tx.user.count()
    })
  })

  it('$replica() inside a transaction throws', async () => {
    const error = await prisma
      .$transaction(async (tx) => {
        await tx.$replica().user.count()
      })
      .catch((e: unknown) => e)
    expect(isReplicaInTransactionError(error)).toBe(true)
    expect((error as Error).message).toContain('Cannot use $replica inside of a transaction')
  })

  it('$replica(name) reads from that replica; an unknown name throws UnknownReplicaError', async () => {
    await prisma.$replica('replica-2').user.findMany({ take: 1 })
    expect(events.at(-1)).toMatchObject({ target: 'replica', replica: 'replica-2', reason: 'forced-replica' })
    let error: unknown
    try {
      prisma.$replica('nope')
    } catch (e) {
      error = e
    }
    expect(isUnknownReplicaError(error)).toBe(true)
    expect((error as Error).message).toBe('Unknown replica `nope`; configured replicas: `replica-1`, `replica-2`')
    // Not a string at all (JavaScript callers): unknown as well, described, not a bare TypeError.
    expect(() => prisma.$replica(42 as unknown as string)).toThrow(new UnknownReplicaError(42, ['replica-1', 'replica-2']))
  })

  it('$replica(url) by mistake: UnknownReplicaError neither shows nor keeps the string (it may hold a password)', () => {
    const url = 'postgresql://app:s3cr3t-pw@db.internal:5432/app'
    let error: unknown
    try {
      prisma.$replica(url)
    } catch (e) {
      error = e
    }
    expect(isUnknownReplicaError(error)).toBe(true)
    expect((error as Error).message).toBe(`Unknown replica (a string of ${String(url.length)} characters (not shown)); configured replicas: \`replica-1\`, \`replica-2\``)
    expect(JSON.stringify(error)).not.toContain('s3cr3t')
    expect((error as { replica?: string }).replica).toBeUndefined()
  })

  it('a model write through $replica() fails before it reaches the network', async () => {
    // The replica behind this client does not even exist: a network attempt would fail differently.
    const offline = newClient('postgresql://postgres:not-used@127.0.0.1:1/none')
    const client = newClient(topology.primaryUrl).$extends(readReplicas({ replicas: [offline] }))
    for (const attempt of [
      () => client.$replica().user.create({ data: { email: 'never@x' } }),
      () => client.$replica().user.updateMany({ data: { name: 'x' } }),
      () => client.$replica().user.deleteMany({}),
      () => client.$replica().user.upsert({ where: { email: 'x' }, create: { email: 'x' }, update: {} }),
    ]) {
      const error = await attempt().catch((e: unknown) => e)
      expect(isReplicaWriteError(error)).toBe(true)
      expect((error as Error).message).toMatch(/^Cannot run `User\.\w+` on replica `replica-1`: replicas are read-only\./)
    }
    await client.$disconnect()
  })

  it('$connect() and $disconnect() fan out to the primary and every replica', async (ctx) => {
    const c = requireCluster(ctx)
    const tag = unique('fanout').replaceAll('-', '_')
    const withApp = (url: string) => newClient(`${url}?application_name=${tag}`)
    const client = withApp(topology.primaryUrl).$extends(readReplicas({ replicas: topology.replicas.map((r) => withApp(r.url)) }))
    const servers = ['primary', ...replicaNames]
    const connections = async () =>
      Promise.all(
        servers.map(async (s) => {
          const rows = await c.query<{ n: number }>(s, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [tag])
          return rows[0]?.n ?? 0
        }),
      )
    await client.$connect()
    await client.$primary().user.count()
    for (const name of replicaNames) await client.$replica(name).user.count()
    expect((await connections()).every((n) => n > 0)).toBe(true)
    await client.$disconnect()
    // Backends exit asynchronously after the pool closes its sockets: wait on the condition.
    const deadline = Date.now() + 10_000
    let counts = await connections()
    while (counts.some((n) => n > 0) && Date.now() < deadline) counts = await connections()
    expect(counts).toEqual(servers.map(() => 0))
  })
})

describe('fluent API returns exactly what a plain client returns', () => {
  it('findUnique().posts(), findUniqueOrThrow().posts(), findFirst().author(), with args and for a missing parent', async () => {
    const email = unique('fluent') + '@x'
    const user = await plain.user.create({
      data: { email, posts: { create: [{ title: 'b' }, { title: 'a' }, { title: 'c' }] } },
    })
    await waitForReplication()
    const where = { id: user.id }
    const pairs: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
      ['posts()', () => plain.user.findUnique({ where }).posts(), () => prisma.user.findUnique({ where }).posts()],
      [
        'posts(args)',
        () => plain.user.findUnique({ where }).posts({ orderBy: { title: 'asc' }, take: 2 }),
        () => prisma.user.findUnique({ where }).posts({ orderBy: { title: 'asc' }, take: 2 }),
      ],
      ['OrThrow', () => plain.user.findUniqueOrThrow({ where }).posts(), () => prisma.user.findUniqueOrThrow({ where }).posts()],
      ['author()', () => plain.post.findFirst({ where: { authorId: user.id } }).author(), () => prisma.post.findFirst({ where: { authorId: user.id } }).author()],
      [
        'author().posts()',
        () =>
          plain.post
            .findFirst({ where: { authorId: user.id } })
            .author()
            .posts(),
        () =>
          prisma.post
            .findFirst({ where: { authorId: user.id } })
            .author()
            .posts(),
      ],
      ['missing', () => plain.user.findUnique({ where: { id: -1 } }).posts(), () => prisma.user.findUnique({ where: { id: -1 } }).posts()],
    ]
    for (const [label, fromPlain, fromRouted] of pairs) {
      const before = events.length
      const expected = await fromPlain()
      const actual = await fromRouted()
      expect(actual, label).toEqual(expected)
      expect(
        events.slice(before).every((e) => e.target === 'replica'),
        label,
      ).toBe(true)
    }
    expect(Array.isArray(await prisma.user.findUnique({ where }).posts())).toBe(true)
  })
})

describe('composition with other extensions', () => {
  // With an extension before it, readReplicas routes reads through its query extension (not the fast path).
  it('a soft-delete extension applied BEFORE readReplicas filters the reads a replica serves', async () => {
    const softDelete = GeneratedPrisma.defineExtension({
      name: 'soft-delete',
      query: {
        post: {
          findMany({ args, query }) {
            return query({ ...args, where: { ...args.where, deletedAt: null } })
          },
        },
      },
    })
    const routed: { target: string; replica?: string }[] = []
    const client = newClient(topology.primaryUrl)
      .$extends(softDelete)
      .$extends(
        readReplicas({
          replicas: topology.replicas.map((r) => newClient(r.url)),
          sticky: false,
          onRoute: (e) => routed.push(e),
        }),
      )
    const author = await plain.user.create({
      data: {
        email: unique('soft') + '@x',
        posts: { create: [{ title: 'kept' }, { title: 'gone', deletedAt: new Date() }] },
      },
    })
    await waitForReplication()
    const posts = await client.post.findMany({ where: { authorId: author.id }, orderBy: { id: 'asc' } })
    const unfiltered = await prisma.post.findMany({ where: { authorId: author.id }, orderBy: { id: 'asc' } })
    expect(posts.map((p) => p.title)).toEqual(['kept'])
    expect(
      unfiltered.map((p) => p.title),
      'the control sees the soft-deleted post',
    ).toEqual(['kept', 'gone'])
    expect(routed.map((e) => e.target)).toEqual(['replica'])
    await client.$disconnect()
  })
})

describe('writes never reach a replica', () => {
  it('a mixed workload leaves no SQLSTATE 25006 in any replica log, while a forced replica write does', async (ctx) => {
    const c = requireCluster(ctx)
    const before = await Promise.all(replicaNames.map((n) => c.serverLog(n)))
    const count25006 = (log: string) => log.split('\n').filter((l) => l.includes('sqlstate=25006 ERROR:')).length
    await runInScope(async () => {
      for (let i = 0; i < 20; i++) {
        const user = await sticky.prisma.user.create({ data: { email: unique('mixed') + '@x' } })
        await sticky.prisma.user.update({ where: { id: user.id }, data: { name: String(i) } })
        await sticky.prisma.user.findMany({ take: 5 })
        await sticky.prisma.post.createMany({ data: [{ title: 't', authorId: user.id }] })
        await sticky.prisma.$executeRaw`UPDATE "User" SET name = name WHERE id = ${user.id}`
        await sticky.prisma.user.delete({ where: { id: user.id } })
      }
    })
    const after = await Promise.all(replicaNames.map((n) => c.serverLog(n)))
    expect(after.map((log, i) => count25006(log) - count25006(before[i] ?? ''))).toEqual(replicaNames.map(() => 0))
    // The check can fail: a raw write forced onto a replica is refused by PostgreSQL with 25006, and logged.
    await expect(sticky.prisma.$replica('replica-1').$executeRaw`INSERT INTO "Note" (title) VALUES ('x')`).rejects.toThrow()
    const log1 = await c.serverLog('replica-1')
    expect(count25006(log1) - count25006(before[0] ?? '')).toBe(1)
  })
})
