/**
 * The core routing of test/read-replicas.db.test.ts on a real MariaDB primary + 2 GTID replicas, proven by data:
 * replicas paused (`STOP SLAVE SQL_THREAD`), so only the primary has fresh rows.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { InvalidOptionError, isReadOnlyTransactionError, isReplicaWriteError } from '../src/index.ts'
import { healMariaReplicas, mariadb, newMariaClient, requireMariadb, routedMariaClient } from './support/mariadb.ts'

afterEach(healMariaReplicas)
const routed = mariadb ? routedMariaClient(mariadb, { sticky: false }) : undefined
const plain = mariadb ? newMariaClient(mariadb.primaryUrl) : undefined
afterAll(async () => {
  await Promise.all([routed?.prisma.$disconnect(), plain?.$disconnect()])
})

let counter = 0
const unique = (prefix: string) => `${prefix}-${String(process.pid)}-${String(Date.now())}-${String(++counter)}@x`

async function pauseAll(ctx: Parameters<typeof requireMariadb>[0]) {
  const cluster = requireMariadb(ctx)
  await cluster.waitForReplication()
  for (const { name } of cluster.info.replicas) await cluster.pauseReplay(name)
  return { ...routed!, plain: plain! }
}

describe('MariaDB: routing, proven by data', () => {
  it('every read kind goes to a replica (stale), writes to the primary (fresh)', async (ctx) => {
    const { prisma, events, base } = await pauseAll(ctx)
    const email = unique('routing')
    const created = await prisma.user.create({ data: { email } })
    expect(await prisma.user.findUnique({ where: { email } })).toBeNull()
    expect(await prisma.user.findFirst({ where: { email } })).toBeNull()
    expect(await prisma.user.findMany({ where: { email } })).toEqual([])
    expect(await prisma.user.count({ where: { email } })).toBe(0)
    expect((await prisma.user.aggregate({ where: { email }, _count: { _all: true } }))._count._all).toBe(0)
    expect(await prisma.user.groupBy({ by: ['email'], where: { email } })).toEqual([])
    await expect(prisma.user.findUniqueOrThrow({ where: { email } })).rejects.toThrow()
    expect(await base.user.findUnique({ where: { email } })).toMatchObject({ id: created.id })
    await prisma.user.update({ where: { id: created.id }, data: { name: 'updated' } })
    expect((await base.user.findUnique({ where: { email } }))?.name).toBe('updated')
    const reads = events.filter((e) => e.model === 'User' && e.reason === 'read')
    expect(reads.length).toBeGreaterThanOrEqual(7)
    expect(reads.every((e) => e.target === 'replica')).toBe(true)
  })

  it('$primary() sees a fresh write; interactive and batch transactions see their own writes, on the primary', async (ctx) => {
    const { prisma, events } = await pauseAll(ctx)
    const email = unique('tx')
    await prisma.user.create({ data: { email } })
    expect(await prisma.$primary().user.findUnique({ where: { email } })).toMatchObject({ email })
    const other = unique('itx')
    const seen = await prisma.$transaction(async (tx) => {
      await tx.user.create({ data: { email: other } })
      return await tx.user.count({ where: { email: other } })
    })
    expect(seen).toBe(1)
    const third = unique('batch')
    const [, found] = await prisma.$transaction([prisma.user.create({ data: { email: third } }), prisma.user.findUnique({ where: { email: third } })])
    expect(found).toMatchObject({ email: third })
    expect(events.slice(-2).map((e) => [e.operation, e.target, e.reason])).toEqual([
      ['create', 'primary', 'transaction'],
      ['findUnique', 'primary', 'transaction'],
    ])
  })

  it('raw queries go to the primary; $replica().$queryRaw runs on a replica; a model write through $replica() is refused', async (ctx) => {
    const { prisma } = await pauseAll(ctx)
    const [primary] = await prisma.$queryRaw<{ ro: unknown }[]>`SELECT @@read_only AS ro`
    expect(Number(primary?.ro)).toBe(0)
    const [replica] = await prisma.$replica('replica-1').$queryRaw<{ ro: unknown }[]>`SELECT @@read_only AS ro`
    expect(Number(replica?.ro)).toBe(1)
    const refused = await prisma
      .$replica()
      .user.create({ data: { email: unique('refused') } })
      .catch((e: unknown) => e)
    expect(isReplicaWriteError(refused)).toBe(true)
  })

  it('$replica().$transaction(fn): a read-only transaction on a replica (stale data proves it); writes refused, raw queries too (no SQL parser for MariaDB)', async (ctx) => {
    const { prisma, events, plain } = await pauseAll(ctx)
    const email = unique('ro-tx')
    await plain.user.create({ data: { email } })
    const from = events.length
    const seen = await prisma.$replica().$transaction(async (tx) => await tx.user.findUnique({ where: { email } }))
    expect(seen).toBeNull() // the replica's replay is stopped: only the primary has the row
    expect(events.slice(from).find((e) => e.operation === '$transaction')).toMatchObject({ target: 'replica' })
    const refused = async (write: (tx: typeof prisma) => Promise<unknown>) =>
      await prisma
        .$replica()
        .$transaction(async (tx) => await write(tx as unknown as typeof prisma))
        .catch((e: unknown) => e)
    const attempts = [
      (tx: typeof prisma) => tx.user.create({ data: { email: unique('ro-refused') } }),
      // Prisma also exposes each model under its own name.
      (tx: typeof prisma) => (tx as unknown as { User: typeof prisma.user }).User.create({ data: { email: unique('ro-refused') } }),
      (tx: typeof prisma) => tx.$queryRawUnsafe(`INSERT INTO User (email) VALUES ('${unique('ro-refused')}') RETURNING id`),
      (tx: typeof prisma) => tx.$queryRaw`SELECT 1 AS one`,
    ]
    for (const attempt of attempts) expect(isReadOnlyTransactionError(await refused(attempt))).toBe(true)
    for (const { name } of mariadb!.info.replicas) {
      const rows = await mariadb!.query<{ n: number }>(name, "SELECT count(*) AS n FROM User WHERE email LIKE 'ro-refused%'")
      expect(Number(rows[0]?.n)).toBe(0)
    }
  })

  it("raw: 'classify' (PostgreSQL's parser) is refused on MariaDB with a typed error at construction", (ctx) => {
    const cluster = requireMariadb(ctx)
    expect(() => routedMariaClient(cluster, { raw: 'classify' })).toThrow(InvalidOptionError)
    expect(() => routedMariaClient(cluster, { raw: 'classify' })).toThrow(/PostgreSQL's SQL only/)
  })

  it('the fluent API returns exactly what a plain client returns', async (ctx) => {
    const cluster = requireMariadb(ctx)
    const { prisma, events } = routed!
    const user = await plain!.user.create({ data: { email: unique('fluent'), posts: { create: [{ title: 'b' }, { title: 'a' }] } } })
    await cluster.waitForReplication()
    const where = { id: user.id }
    const before = events.length
    expect(await prisma.user.findUnique({ where }).posts({ orderBy: { title: 'asc' } })).toEqual(await plain!.user.findUnique({ where }).posts({ orderBy: { title: 'asc' } }))
    expect(await prisma.post.findFirst({ where: { authorId: user.id } }).author()).toEqual(await plain!.post.findFirst({ where: { authorId: user.id } }).author())
    expect(events.slice(before).every((e) => e.target === 'replica')).toBe(true)
  })
})
