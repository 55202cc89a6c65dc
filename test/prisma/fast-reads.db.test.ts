import { inspect } from 'node:util'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../../generated/prisma/client.ts'
import { ReplicaModelError, readReplicas, type RouteEvent } from '../../src/index.ts'
import { tracingEnabled } from '../../src/prisma/internals.ts'
import { newClient, routedClient, topology, unique, waitForReplication } from '../support/db.ts'

/** A client with the `minimal` error format (NODE_ENV=production's default), the only one the fast path serves. */
const minimal = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }), errorFormat: 'minimal' })

// readReplicas applied straight to a PrismaClient: reads take the fast path (src/prisma/fast-reads.ts).
const events: RouteEvent[] = []
const prisma = minimal(topology.primaryUrl).$extends(readReplicas({ replicas: topology.replicas.map((r) => minimal(r.url)), sticky: false, onRoute: (e) => events.push(e) }))
const plain = newClient(topology.primaryUrl)
afterAll(() => Promise.all([prisma.$disconnect(), plain.$disconnect()]))

describe('the fast read path (readReplicas applied to a client without extensions)', () => {
  it('is lazy and runs once, like a PrismaPromise', async () => {
    const before = events.length
    const query = prisma.user.findMany({ take: 1 })
    expect(events.length, 'a read must not run before it is awaited').toBe(before)
    expect(Object.prototype.toString.call(query)).toBe('[object PrismaPromise]')
    const first = await query
    const second = await query
    expect(second).toBe(first)
    expect(events.slice(before)).toEqual([{ model: 'User', operation: 'findMany', target: 'replica', replica: expect.any(String) as string, reason: 'read' }])
  })

  it('rejects as Prisma does, through await and .catch', async () => {
    await expect(prisma.user.findUniqueOrThrow({ where: { id: -1 } })).rejects.toMatchObject({ code: 'P2025' })
    const code = await prisma.user.findFirstOrThrow({ where: { id: -1 } }).catch((e: unknown) => (e as { code?: string }).code)
    expect(code).toBe('P2025')
    expect(await prisma.user.findUnique({ where: { id: -1 } }).finally(() => undefined)).toBeNull()
  })

  it('keeps the client and its models as Prisma shapes them', async () => {
    expect('user' in prisma).toBe(true)
    expect(Object.keys(prisma)).toContain('user')
    expect(prisma.user.fields.email.name).toBe('email')
    const before = events.length
    const user = await prisma.user.create({ data: { email: unique('fast') + '@x' } })
    expect(events.slice(before).map((e) => e.reason)).toEqual(['write'])
    await prisma.user.delete({ where: { id: user.id } })
  })

  it('a read inside a batch $transaction becomes part of the batch, on the primary', async () => {
    const email = unique('batch') + '@x'
    const before = events.length
    const [created, found] = await prisma.$transaction([prisma.user.create({ data: { email } }), prisma.user.findUnique({ where: { email } })])
    expect(found?.id).toBe(created.id)
    expect(events.slice(before).map((e) => `${e.target}:${e.reason}`)).toEqual(['primary:transaction', 'primary:transaction'])
  })

  it('a client extended AFTER readReplicas keeps routing reads (through the query extension) and its own methods', async () => {
    const later = prisma.$extends({ name: 'later', client: { $hello: () => 'hello' } })
    const author = await plain.user.create({ data: { email: unique('later') + '@x', posts: { create: [{ title: 'a' }] } } })
    await waitForReplication()
    const before = events.length
    const posts = await later.post.findMany({ where: { authorId: author.id } })
    expect(posts.map((p) => p.title)).toEqual(['a'])
    expect(events.slice(before).map((e) => `${e.target}:${e.reason}`)).toEqual(['replica:read'])
    expect(later.$hello()).toBe('hello')
    expect(later.$replicaStatus().length).toBe(topology.replicas.length)
  })
})

describe('the fast path behaves like a client, for code that pokes at it', () => {
  it('a routing failure is a rejection: .catch and .finally handlers run, nothing throws synchronously', async () => {
    const boom = {
      name: 'boom',
      pick: () => {
        throw new Error('policy boom')
      },
    }
    const client = newClient(topology.primaryUrl).$extends(readReplicas({ replicas: [newClient(topology.replicas[0]!.url)], policy: boom }))
    let query: Promise<unknown> | undefined
    expect(() => {
      query = client.user.findMany().catch((e: unknown) => (e as Error).message)
    }).not.toThrow()
    expect(await query).toBe('policy boom')
    let finished = false
    await expect(
      client.user.count().finally(() => {
        finished = true
      }),
    ).rejects.toThrow('policy boom')
    expect(finished).toBe(true)
    await client.$disconnect()
  })

  it('a replica client without the model rejects the read with a ReplicaModelError, and nothing stays in flight', async () => {
    // A client generated from another schema (the catalog example: Author, Book) as the replica.
    const { PrismaClient: CatalogClient } = await import('../../examples/catalog/generated/prisma/client.ts')
    const { PrismaPg } = await import('@prisma/adapter-pg')
    const other = new CatalogClient({ adapter: new PrismaPg({ connectionString: topology.replicas[0]!.url }) })
    const client = newClient(topology.primaryUrl).$extends(readReplicas({ replicas: [{ client: other, name: 'catalog' }] }))
    await expect(client.user.findMany()).rejects.toThrow(new ReplicaModelError('catalog', 'User', 'findMany'))
    await expect(client.user.count()).rejects.toMatchObject({ name: 'ReplicaModelError', replica: 'catalog', model: 'User', operation: 'count' })
    expect(client.$replicaStatus()[0]).toMatchObject({ name: 'catalog', inFlight: 0, reads: 0 })
    await client.$disconnect()
  })

  it('test doubles win: a delegate method assigned or spied on is what runs', async () => {
    const { prisma: client, events: seen } = routedClient({ sticky: false })
    const spy = vi.spyOn(client.user, 'count')
    expect(typeof (await client.user.count())).toBe('number')
    expect(spy).toHaveBeenCalledTimes(1)
    expect(seen.at(-1)).toMatchObject({ operation: 'count', target: 'replica' })
    client.user.findMany = (() => Promise.resolve(['mocked'])) as never
    expect(await client.user.findMany()).toEqual(['mocked'])
    await client.$disconnect()
  })

  it('inspects as the client, and refuses to be frozen rather than break', () => {
    expect(inspect(prisma)).not.toBe('{}')
    expect(inspect(prisma.user)).not.toBe('{}')
    expect(() => Object.freeze(prisma)).toThrow(TypeError)
    expect(Object.keys(prisma)).toContain('user')
  })
})

describe('errors of routed reads', () => {
  /** The error of `client.user.findMany(args)`, called from one line for every client (the call site is that line). */
  const errorOf = (client: { user: { findMany(args: object): PromiseLike<unknown> } }, args: object) =>
    Promise.resolve(client.user.findMany(args)).then(
      () => undefined,
      (e: unknown) => e as Error,
    )

  it("a Prisma validation error on a replica read is Prisma's own, the same message as a plain client's in every error format", async () => {
    for (const errorFormat of ['minimal', 'colorless', 'pretty'] as const) {
      const client = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }), errorFormat })
      const routed = client(topology.primaryUrl).$extends(readReplicas({ replicas: topology.replicas.map((r) => client(r.url)) }))
      const same = client(topology.replicas[0]!.url)
      try {
        const error = await errorOf(routed, { where: { nope: 1 } })
        expect(error?.name, errorFormat).toBe('PrismaClientValidationError')
        expect(error?.message, errorFormat).toContain('Unknown argument `nope`')
        expect(error?.message, errorFormat).toBe((await errorOf(same, { where: { nope: 1 } }))?.message)
        // In development, the location is the application's line (this file), never the router's.
        if (errorFormat !== 'minimal') expect(error?.message, errorFormat).toMatch(/fast-reads\.db\.test\.ts:\d+/)
        expect(error?.message, errorFormat).not.toMatch(/src\/(prisma|read-replicas)|dist\//)
      } finally {
        await Promise.all([routed.$disconnect(), same.$disconnect()])
      }
    }
  })
})

describe('which clients take the fast path', () => {
  const routedOver = (extension: object | undefined, make = minimal) => {
    const base = make(topology.primaryUrl)
    const under = extension === undefined ? base : base.$extends(extension)
    return under.$extends(readReplicas({ replicas: topology.replicas.map((r) => make(r.url)) }))
  }
  const fast = (client: { user: { findMany(): object } }) => client.user.findMany().constructor.name.includes('RoutedRead')

  it('only with the minimal error format: another records the call site its messages show, which only Prisma’s pipeline does', () => {
    expect(fast(routedOver(undefined, newClient))).toBe(false)
    expect(fast(routedOver(undefined))).toBe(true)
  })

  it('a client with no extension, or with extensions that only add client or model methods', () => {
    expect(fast(routedOver(undefined))).toBe(true)
    expect(fast(routedOver({ name: 'empty' }))).toBe(true)
    expect(fast(routedOver({ client: { $hello: () => 'hello' }, model: { user: { signUp: () => 'signed up' } } }))).toBe(true)
  })

  it('with query components: row reads, which run their callbacks first (src/prisma/query-chain.ts); aggregates take the client’s pipeline', () => {
    const client = routedOver({ query: { $allOperations: ({ args, query }: { args: unknown; query: (a: unknown) => unknown }) => query(args) } })
    expect(fast(client)).toBe(true)
    expect((client.user.count() as object).constructor.name).not.toContain('RoutedRead')
    // A model the callbacks do not apply to routes at once, aggregates included.
    const onlyPosts = routedOver({ query: { post: { findMany: ({ args, query }: { args: unknown; query: (a: unknown) => unknown }) => query(args) } } })
    expect((onlyPosts.user.count() as object).constructor.name).toContain('RoutedRead')
  })

  it('not with a result component, or a model method named like a read (they must run)', () => {
    expect(fast(routedOver({ result: { user: { tag: { needs: { email: true }, compute: () => 'x' } } } }))).toBe(false)
    expect(fast(routedOver({ model: { $allModels: { findMany: () => 'mine' } } }))).toBe(false)
  })
})

describe('Prisma tracing (@prisma/instrumentation) on the fast path', () => {
  it('while tracing is on, a replica read opens Prisma’s operation span (the replica’s model method runs it), as a plain client’s read does', async () => {
    const spans: string[] = []
    const helper = {
      isEnabled: () => true,
      getTraceParent: () => '00-10-10-00',
      dispatchEngineSpans: () => undefined,
      getActiveContext: () => undefined,
      runInChildSpan: (options: string | { name: string }, callback: () => unknown) => {
        spans.push(typeof options === 'string' ? options : options.name)
        return callback()
      },
    }
    const { prisma } = routedClient()
    const plain = newClient(topology.replicas[0]!.url)
    // Where Prisma's instrumentation registers its tracing helper; read by every client at each query.
    const global = globalThis as Record<string, unknown>
    global.PRISMA_INSTRUMENTATION = { helper }
    try {
      await plain.user.findMany({ take: 1 })
      const ofPlain = [...spans]
      expect(ofPlain).toContain('operation')
      spans.length = 0
      await prisma.user.findMany({ take: 1 })
      await prisma.user.findUnique({ where: { id: 1 } })
      expect(spans.filter((s) => s === 'operation')).toHaveLength(2)
      expect(tracingEnabled(plain)).toBe(true)
    } finally {
      delete global.PRISMA_INSTRUMENTATION
      await Promise.all([prisma.$disconnect(), plain.$disconnect()])
    }
    expect(tracingEnabled(plain), 'Prisma no longer exposes `_tracingHelper.isEnabled()`').toBe(false)
  })
})
