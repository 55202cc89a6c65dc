/**
 * readReplicas() composed with other Prisma extensions, in either order, on the real cluster. Every read is
 * compared with the same read on a plain client carrying the same extensions (the primary, after replication),
 * and must have been served by a replica where it is routed to one.
 */
import { afterAll, afterEach, describe, expect, it, type TestContext } from 'vitest'
import { PrismaPg } from '@prisma/adapter-pg'
import { Prisma as GeneratedPrisma, PrismaClient } from '../generated/prisma/client.ts'
import { readReplicas, runInScope, type RouteEvent } from '../src/index.ts'
import { atLeast, clientVersion } from './support/versions.ts'
import { healReplicas, newClient, replicaNames, requireCluster, topology, unique, waitForReplication } from './support/db.ts'

const clients: { $disconnect(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
})

/** A result as plain data: Prisma's result objects with computed fields each carry their own inspect function. */
function data(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown
}

function routerOptions(routed: RouteEvent[]) {
  const replicas = topology.replicas.map((r) => newClient(r.url))
  return readReplicas({ replicas, sticky: false, onRoute: (e) => routed.push(e) })
}

/** Computed fields, as a result extension: `User.tag` needs `email`, `Post.headline` needs `title`. */
const computed = GeneratedPrisma.defineExtension({
  name: 'computed-fields',
  result: {
    user: { tag: { needs: { email: true }, compute: (user) => `<${user.email}>` } },
    post: { headline: { needs: { title: true }, compute: (post) => post.title.toUpperCase() } },
  },
})

/** The reads that exercise computed fields: select, omit, include, nested select, fluent. */
function computedReads(client: ReturnType<typeof plainWithComputed>, userId: number) {
  return {
    selectComputed: () => client.user.findUnique({ where: { id: userId }, select: { id: true, tag: true } }),
    omitItsNeed: () => client.user.findFirst({ where: { id: userId }, omit: { email: true } }),
    wholeRow: () => client.user.findUniqueOrThrow({ where: { id: userId } }),
    includeNested: () => client.post.findMany({ where: { authorId: userId }, orderBy: { id: 'asc' }, include: { author: { select: { tag: true } } } }),
    nestedSelect: () => client.user.findMany({ where: { id: userId }, select: { tag: true, posts: { select: { headline: true }, orderBy: { id: 'asc' } } } }),
    fluent: () => client.user.findUnique({ where: { id: userId } }).posts({ select: { headline: true }, orderBy: { id: 'asc' } }),
    omitComputed: () => client.user.findMany({ where: { id: userId }, omit: { tag: true, email: true } }),
    deselectComputed: () => client.post.findFirst({ where: { authorId: userId }, select: { headline: false, title: true, author: { omit: { email: true } } } }),
  }
}

/** The same reads on the router's explicit paths (results as a plain client's; routed as named). */
function explicitReads(client: { $primary(): ReturnType<typeof plainWithComputed>; $replica(): ReturnType<typeof plainWithComputed> }, userId: number) {
  return {
    primary: () => client.$primary().user.findUnique({ where: { id: userId }, select: { id: true, tag: true, posts: { select: { headline: true } } } }),
    replica: () => client.$replica().user.findUnique({ where: { id: userId }, select: { id: true, tag: true, posts: { select: { headline: true } } } }),
    transaction: () =>
      (client as unknown as ReturnType<typeof plainWithComputed>).$transaction((tx) =>
        tx.user.findUnique({ where: { id: userId }, select: { id: true, tag: true, posts: { select: { headline: true } } } }),
      ),
  }
}

function plainWithComputed() {
  const client = newClient(topology.primaryUrl)
  clients.push(client)
  return client.$extends(computed)
}

async function seedAuthor(): Promise<number> {
  const writer = newClient(topology.primaryUrl)
  try {
    const user = await writer.user.create({ data: { email: unique('computed') + '@x', posts: { create: [{ title: 'first' }, { title: 'second' }] } } })
    await waitForReplication()
    return user.id
  } finally {
    await writer.$disconnect()
  }
}

describe('computed fields (result extensions) on replica reads, exactly as on a plain client', () => {
  const control = plainWithComputed()

  for (const order of ['computed fields applied before readReplicas', 'computed fields applied after readReplicas'] as const) {
    it(order, async () => {
      const routed: RouteEvent[] = []
      const base = newClient(topology.primaryUrl)
      clients.push(base)
      const client = (order === 'computed fields applied before readReplicas'
        ? base.$extends(computed).$extends(routerOptions(routed))
        : base.$extends(routerOptions(routed)).$extends(computed)) as unknown as ReturnType<typeof plainWithComputed>
      clients.push(client)
      const userId = await seedAuthor()
      const expected = computedReads(control, userId)
      const actual = computedReads(client, userId)
      for (const [name, read] of Object.entries(actual)) {
        routed.length = 0
        const result: unknown = await read()
        expect(data(result), name).toEqual(data(await expected[name as keyof typeof expected]()))
        expect(
          routed.map((e) => e.target),
          name,
        ).toEqual(['replica'])
      }
      for (const [name, read] of Object.entries(explicitReads(client as unknown as Parameters<typeof explicitReads>[0], userId))) {
        routed.length = 0
        expect(data(await read()), name).toEqual(
          data(await control.user.findUnique({ where: { id: userId }, select: { id: true, tag: true, posts: { select: { headline: true } } } })),
        )
        expect(
          routed.map((e) => `${e.target} ${e.reason}`),
          name,
        ).toEqual([{ primary: 'primary forced-primary', replica: 'replica forced-replica', transaction: 'primary transaction' }[name]])
      }
      // A spot check of the values themselves (the control could be wrong the same way).
      expect(data(await actual.selectComputed())).toEqual({ id: userId, tag: expect.stringMatching(/^<computed-.*@x>$/) as unknown })
      expect(data(await actual.omitItsNeed())).toMatchObject({ tag: expect.stringMatching(/^<computed-/) as unknown })
      expect(data(await actual.omitItsNeed())).not.toHaveProperty('email')
      // Before 7.6.0 (seen on 7.1.0 and 7.3.0) Prisma itself computes no field on a fluent result: ours equals it (above).
      if (atLeast(clientVersion, '7.6.0')) expect(data(await actual.fluent())).toEqual([{ headline: 'FIRST' }, { headline: 'SECOND' }])
    })
  }
})

/** A tenant filter, as another team member would add it: every Cell read is limited to `owner = tenant`. */
function tenantFilter(tenant: string, calls: string[]) {
  return GeneratedPrisma.defineExtension({
    name: 'tenant-filter',
    query: {
      cell: {
        $allOperations({ operation, args, query }) {
          calls.push(operation)
          if (['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow', 'findMany', 'count', 'aggregate', 'groupBy'].includes(operation)) {
            const where = (args as { where?: object }).where
            return query({ ...args, where: { ...where, owner: tenant } })
          }
          return query(args)
        },
      },
    },
  })
}

describe('a query extension applied AFTER readReplicas is honoured on every read path', () => {
  it('a tenant filter: 0 foreign rows from model reads, fluent, $primary(), $replica(), transactions; it runs once per read', async () => {
    const tag = unique('tenant')
    const [mine, theirs] = [`${tag}-a`, `${tag}-b`]
    const writer = newClient(topology.primaryUrl)
    clients.push(writer)
    for (const owner of [mine, theirs]) {
      await writer.cell.create({ data: { id: `${owner}-root`, owner } })
      await writer.cell.createMany({ data: [1, 2].map((i) => ({ id: `${owner}-leaf-${String(i)}`, owner, parentId: `${owner}-root` })) })
    }
    await waitForReplication()

    const calls: string[] = []
    const routed: RouteEvent[] = []
    const base = newClient(topology.primaryUrl)
    clients.push(base)
    const client = base.$extends(routerOptions(routed)).$extends(tenantFilter(mine, calls))
    clients.push(client)
    const ownerIn = { owner: { in: [mine, theirs] } }

    const reads: Record<string, () => Promise<unknown>> = {
      findMany: () => client.cell.findMany({ where: ownerIn }),
      findFirst: () => client.cell.findFirst({ where: { id: `${theirs}-root` } }),
      findUnique: () => client.cell.findUnique({ where: { id: `${theirs}-root` } }),
      count: () => client.cell.count({ where: ownerIn }),
      aggregate: () => client.cell.aggregate({ where: ownerIn, _count: { id: true } }),
      groupBy: () => client.cell.groupBy({ by: ['owner'], where: ownerIn, _count: { id: true } }),
      fluent: () => client.cell.findUnique({ where: { id: `${theirs}-root` } }).children(),
      scoped: () => runInScope(() => client.cell.findMany({ where: ownerIn })),
      primary: () => client.$primary().cell.findMany({ where: ownerIn }),
      replica: () => client.$replica().cell.findMany({ where: ownerIn }),
      interactive: () => client.$transaction((tx) => tx.cell.findMany({ where: ownerIn })),
      batch: () => client.$transaction([client.cell.findMany({ where: ownerIn }), client.cell.count({ where: ownerIn })]),
    }
    const expected: Record<string, unknown> = {
      findMany: 3,
      findFirst: null,
      findUnique: null,
      count: 3,
      aggregate: { _count: { id: 3 } },
      groupBy: [{ owner: mine, _count: { id: 3 } }],
      fluent: null,
      scoped: 3,
      primary: 3,
      replica: 3,
      interactive: 3,
      batch: [3, 3],
    }
    const shape = (value: unknown): unknown =>
      Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null && 'owner' in v && 'parentId' in v)
        ? value.length
        : Array.isArray(value)
          ? value.map(shape)
          : value
    for (const [name, read] of Object.entries(reads)) {
      calls.length = 0
      routed.length = 0
      const result = await read()
      const foreign = JSON.stringify(result).includes(theirs)
      expect(foreign, `${name}: a row of the other tenant`).toBe(false)
      expect(shape(result), name).toEqual(expected[name])
      expect(calls.length, `${name}: tenant filter calls`).toBe(name === 'batch' ? 2 : 1)
    }
    // Model reads were served by replicas (the filter did not push them to the primary).
    calls.length = 0
    routed.length = 0
    await reads.findMany?.()
    expect(routed.map((e) => e.target)).toEqual(['replica'])
  })
})

describe('extensions run once per read, in the order applied', () => {
  it('query extensions before and after readReplicas each run once per replica read, first applied first', async () => {
    const order: string[] = []
    const tracer = (label: string) =>
      GeneratedPrisma.defineExtension({
        name: label,
        query: {
          $allModels: {
            $allOperations({ args, query }) {
              order.push(label)
              return query(args)
            },
          },
        },
      })
    const routed: RouteEvent[] = []
    const base = newClient(topology.primaryUrl)
    clients.push(base)
    const client = base.$extends(tracer('before')).$extends(routerOptions(routed)).$extends(tracer('after'))
    clients.push(client)
    const userId = await seedAuthor()
    for (const read of [
      () => client.user.findUnique({ where: { id: userId } }),
      () => client.user.findMany({ where: { id: userId }, include: { posts: true } }),
      () => client.user.findUnique({ where: { id: userId } }).posts(),
    ]) {
      order.length = 0
      routed.length = 0
      await read()
      expect(order).toEqual(['before', 'after'])
      expect(routed.map((e) => e.target)).toEqual(['replica'])
    }
  })
})

describe('writes of extensions applied after readReplicas count for read-your-writes (replicas paused: a replica read is stale)', () => {
  afterEach(healReplicas)

  async function routedWithPausedReplicas(ctx: TestContext) {
    const c = requireCluster(ctx)
    const base = newClient(topology.primaryUrl)
    clients.push(base)
    const routed: RouteEvent[] = []
    const client = base.$extends(readReplicas({ replicas: topology.replicas.map((r) => newClient(r.url)), onRoute: (e) => routed.push(e) }))
    clients.push(client)
    const user = await client.user.create({ data: { email: unique('ryw') + '@x', name: 'before' } })
    await waitForReplication()
    for (const name of replicaNames) await c.pauseReplay(name)
    return { client, user, routed }
  }

  it('a function-form extension writing through the client it was given', async (ctx) => {
    const { client, user } = await routedWithPausedReplicas(ctx)
    const renaming = client.$extends(
      GeneratedPrisma.defineExtension((c) =>
        c.$extends({
          client: {
            $rename(id: number, name: string) {
              return c.user.update({ where: { id }, data: { name } })
            },
          },
        }),
      ),
    )
    await runInScope(async () => {
      await renaming.$rename(user.id, 'after')
      expect((await renaming.user.findUnique({ where: { id: user.id } }))?.name).toBe('after')
      expect((await client.user.findUnique({ where: { id: user.id } }))?.name).toBe('after')
    })
  })

  it('a model method writing through $parent, and an interactive transaction of the function-form client', async (ctx) => {
    const { client, user } = await routedWithPausedReplicas(ctx)
    const renaming = client.$extends({
      model: {
        user: {
          rename(id: number, name: string) {
            const parent = GeneratedPrisma.getExtensionContext(this).$parent as unknown as typeof client
            return parent.user.update({ where: { id }, data: { name } })
          },
        },
      },
    })
    await runInScope(async () => {
      await renaming.user.rename(user.id, 'parent')
      expect((await renaming.user.findUnique({ where: { id: user.id } }))?.name).toBe('parent')
    })
    const transferring = client.$extends(
      GeneratedPrisma.defineExtension((c) =>
        c.$extends({
          client: {
            $renameInTransaction(id: number, name: string) {
              return c.$transaction(async (tx) => tx.user.update({ where: { id }, data: { name } }))
            },
          },
        }),
      ),
    )
    await runInScope(async () => {
      await transferring.$renameInTransaction(user.id, 'transaction')
      expect((await transferring.user.findUnique({ where: { id: user.id } }))?.name).toBe('transaction')
    })
  })
})

describe('computed-field edge cases on replica reads, as on a plain client', () => {
  it("a computed field masking a real column, the client's omit setting, count over an overridden field", async () => {
    const masked = GeneratedPrisma.defineExtension({
      name: 'mask-name',
      result: {
        user: {
          name: { needs: {}, compute: () => undefined },
          tag: { needs: { email: true }, compute: (u) => `<${u.email}>` },
        },
      },
    })
    const omitting = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }), omit: { user: { email: true } } })
    const control = omitting(topology.primaryUrl).$extends(masked)
    const routed: RouteEvent[] = []
    const client = omitting(topology.primaryUrl)
      .$extends(masked)
      .$extends(readReplicas({ replicas: topology.replicas.map((r) => omitting(r.url)), sticky: false, onRoute: (e) => routed.push(e) }))
    clients.push(control, client)
    const userId = await seedAuthor()
    const reads = (c: typeof control) => ({
      default: () => c.user.findUnique({ where: { id: userId } }),
      omitMask: () => c.user.findMany({ where: { id: userId }, omit: { name: true } }),
      selectMask: () => c.user.findFirst({ where: { id: userId }, select: { id: true, name: true } }),
      selectTag: () => c.user.findFirst({ where: { id: userId }, select: { tag: true } }),
      includeAuthor: () => c.post.findMany({ where: { authorId: userId }, include: { author: true } }),
      count: () => c.user.count({ where: { id: userId }, select: { name: true, email: true } }),
    })
    const expected = reads(control)
    for (const [name, read] of Object.entries(reads(client as unknown as typeof control))) {
      routed.length = 0
      const result = await read()
      expect(data(result), name).toEqual(data(await expected[name as keyof typeof expected]()))
      expect(JSON.stringify(result), `${name}: the masked column`).not.toContain('"name":"')
      expect(
        routed.map((e) => e.target),
        name,
      ).toEqual(['replica'])
    }
    expect(data(await reads(client as unknown as typeof control).default())).toMatchObject({ tag: expect.stringMatching(/^<computed-/) as unknown })
    expect(data(await reads(client as unknown as typeof control).default())).not.toHaveProperty('email')
  })
})

describe('writes an extension under the router puts in its batch (row-level security over every operation)', () => {
  it('run once, as on a plain client: through the routed client and $primary() (each ran twice: the router asked the batched query for its result)', async () => {
    const rowLevel = GeneratedPrisma.defineExtension((c) =>
      c.$extends({
        query: {
          $allModels: {
            async $allOperations({ args, query }) {
              const results: unknown[] = await c.$transaction([c.$executeRaw`SELECT set_config('app.tenant', ${'acme'}, TRUE)`, query(args)])
              return results[1]
            },
          },
        },
      }),
    )
    const routed: RouteEvent[] = []
    for (const errorFormat of ['minimal', 'colorless'] as const) {
      const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: topology.primaryUrl }), errorFormat })
      clients.push(base)
      // Read-your-writes on (the default): the router tracks the batched write.
      const replicas = topology.replicas.map((r) => newClient(r.url))
      clients.push(...replicas)
      const client = base.$extends(rowLevel).$extends(readReplicas({ replicas, onRoute: (e) => routed.push(e) }))
      clients.push(client)
      const title = unique(`batched-write-${errorFormat}`)
      await client.note.create({ data: { title } })
      await client.$primary().note.create({ data: { title } })
      await client.note.updateMany({ where: { title }, data: { title: `${title}-x` } })
      expect(await base.note.count({ where: { title: `${title}-x` } })).toBe(2)
    }
  })
})

describe('$replica() with a row-level-security extension (function form: set_config and the query in one batch)', () => {
  it('the query runs in the transaction that set the tenant (never on a replica without it)', async () => {
    const base = newClient(topology.primaryUrl)
    clients.push(base)
    const routed: RouteEvent[] = []
    const client = base.$extends(routerOptions(routed)).$extends(
      GeneratedPrisma.defineExtension((c) =>
        c.$extends({
          query: {
            async $allOperations({ args, query }) {
              const results: unknown[] = await c.$transaction([c.$executeRaw`SELECT set_config('app.tenant', ${'acme'}, TRUE)`, query(args)])
              return results[1]
            },
          },
        }),
      ),
    )
    clients.push(client)
    const tenant = (rows: { t: string | null }[]) => rows[0]?.t
    expect(tenant(await client.$queryRaw<{ t: string | null }[]>`SELECT current_setting('app.tenant', true) AS t`)).toBe('acme')
    expect(tenant(await client.$replica().$queryRaw<{ t: string | null }[]>`SELECT current_setting('app.tenant', true) AS t`)).toBe('acme')
    expect(tenant(await client.$primary().$queryRaw<{ t: string | null }[]>`SELECT current_setting('app.tenant', true) AS t`)).toBe('acme')
  })
})
