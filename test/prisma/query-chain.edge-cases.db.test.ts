/**
 * Edge cases of query extension callbacks run by the router (src/prisma/query-chain.ts), found by an adversarial review:
 * each test compares the routed client with a plain client carrying the same query extensions (or states the
 * behaviour Prisma's own pipeline gives). The argument copies, the rewritten action, the `null` result and the
 * nested router failed on the first version of the chain (0dfcd0a).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { Prisma as GeneratedPrisma } from '../../generated/prisma/client.ts'
import { readReplicas, type RouteEvent } from '../../src/index.ts'
import { cluster, newClient, replicaNames, topology, unique, waitForReplication } from '../support/db.ts'
import { routedOver } from '../support/routed-over.ts'

const clients: { $disconnect(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.$disconnect()))
})

type Base = ReturnType<typeof newClient>

const routed = (events: RouteEvent[], extend: (c: Base) => Base, options: { replicas?: Base[] } = {}) => routedOver(clients, events, extend, options.replicas)

function plain(extend: (c: Base) => Base) {
  const base = newClient(topology.primaryUrl)
  clients.push(base)
  return extend(base)
}

async function seedUser(prefix: string) {
  const email = unique(prefix) + '@review'
  const writer = newClient(topology.primaryUrl)
  clients.push(writer)
  const user = await writer.user.create({ data: { email, name: 'n-' + email } })
  await waitForReplication()
  return user
}

/** A soft-delete / tenant style filter that narrows `where` in place, on its own copy of the arguments. */
const inPlaceFilter = (c: Base) =>
  c.$extends({
    query: {
      user: {
        findMany({ args, query }) {
          const a = args as { where?: Record<string, unknown> }
          a.where ??= {}
          a.where.name = { not: 'tenant-filter' } // mutates args.where in place (Prisma gave this callback a copy)
          return query(args)
        },
      },
    },
  }) as unknown as Base

/** The same filter, assigning a new `where` on the top-level args object. */
const assigningFilter = (c: Base) =>
  c.$extends({
    query: {
      user: {
        findMany({ args, query }) {
          ;(args as { where?: unknown }).where = { ...(args as { where?: object }).where, name: { not: 'tenant-filter' } }
          return query(args)
        },
      },
    },
  }) as unknown as Base

class WhereDto {
  email: { startsWith: string }
  constructor(prefix: string) {
    this.email = { startsWith: prefix }
  }
}

class FindArgsDto {
  where: { email: { startsWith: string } }
  take = 5
  constructor(prefix: string) {
    this.where = { email: { startsWith: prefix } }
  }
}

describe('query extension callbacks under the router, edge cases, as on a plain client', () => {
  it('a class instance in the caller’s `where` (a DTO) is copied for the callbacks: one narrowing it in place leaves the caller’s as it was', async () => {
    const user = await seedUser('dto')
    const prefix = user.email.slice(0, 8)
    const plainWhere = new WhereDto(prefix)
    await plain(inPlaceFilter).user.findMany({ where: plainWhere })
    expect(Object.keys(plainWhere), 'plain client: caller’s where untouched').toEqual(['email'])

    const routedWhere = new WhereDto(prefix)
    await routed([], inPlaceFilter).user.findMany({ where: routedWhere })
    expect(Object.keys(routedWhere), 'routed client: caller’s where untouched').toEqual(['email'])
  })

  it('a class instance as the whole arguments object is copied too: a callback assigning `args.where` leaves the caller’s as it was', async () => {
    const user = await seedUser('dto2')
    const prefix = user.email.slice(0, 8)
    const plainArgs = new FindArgsDto(prefix)
    await plain(assigningFilter).user.findMany(plainArgs)
    expect(plainArgs.where, 'plain client').toEqual({ email: { startsWith: prefix } })

    const routedArgs = new FindArgsDto(prefix)
    await routed([], assigningFilter).user.findMany(routedArgs)
    expect(routedArgs.where, 'routed client').toEqual({ email: { startsWith: prefix } })
  })

  it('a callback that rewrites `__internalParams.action` (findUnique -> findFirst): the replica runs the rewritten read, as Prisma would', async () => {
    const user = await seedUser('action')
    const ext = (c: Base) =>
      c.$extends({
        query: {
          user: {
            findUnique(input) {
              const { args, query } = input
              const internal = (input as unknown as { __internalParams: Record<string, unknown> }).__internalParams
              return (query as unknown as (a: unknown, p: unknown) => Promise<unknown>)(args, { ...internal, action: 'findFirst' })
            },
          },
        },
      }) as unknown as Base
    const where = { name: user.name } as unknown as { id: number }
    const expected = await plain(ext).user.findUnique({ where })
    expect((expected as { email?: string } | null)?.email).toBe(user.email)
    const events: RouteEvent[] = []
    const actual = await routed(events, ext)
      .user.findUnique({ where })
      .catch((e: unknown) => `rejected: ${String(e).split('\n').slice(-3).join(' ')}`)
    expect(actual).toEqual(expected)
  })

  it('a synchronous callback returning null rejects the read with a TypeError, as Prisma does', async () => {
    const ext = (c: Base) => c.$extends({ query: { user: { findFirst: (() => null) as never } } }) as unknown as Base
    const outcome = (p: PromiseLike<unknown>) =>
      Promise.resolve(p).then(
        (v) => ({ ok: v }),
        (e: unknown) => ({ error: e instanceof Error ? e.constructor.name : typeof e }),
      )
    const expected = await outcome(plain(ext).user.findFirst())
    const actual = await outcome(routed([], ext).user.findFirst())
    expect(actual).toEqual(expected)
  })

  it('readReplicas applied twice: row reads and aggregates are routed by the same (outer) router', async () => {
    const eventsA: RouteEvent[] = []
    const eventsB: RouteEvent[] = []
    const base = newClient(topology.primaryUrl)
    const replicasA = topology.replicas.map((r) => newClient(r.url))
    const replicasB = topology.replicas.map((r) => newClient(r.url))
    clients.push(base, ...replicasA, ...replicasB)
    const routed1 = base.$extends(readReplicas({ replicas: replicasA, sticky: false, onRoute: (e) => eventsA.push(e) }))
    const routed2 = routed1.$extends(readReplicas({ replicas: replicasB, sticky: false, onRoute: (e) => eventsB.push(e) }))
    await routed2.user.count()
    const countBy = { A: eventsA.length, B: eventsB.length }
    eventsA.length = 0
    eventsB.length = 0
    await routed2.user.findFirst()
    const findFirstBy = { A: eventsA.length, B: eventsB.length }
    // The outer router (B, applied last, so its callback runs first in Prisma's order) routes count; it should route findFirst too.
    expect(countBy).toEqual({ A: 0, B: 1 })
    expect(findFirstBy).toEqual(countBy)
  })

  it('Prisma’s row-level-security example applied per request after readReplicas (function form): reads run in its batch, on the primary', async (ctx) => {
    const local = cluster
    if (!local) return ctx.skip('needs the local cluster: replicas are paused')
    const email = unique('rls-top') + '@review'
    const events: RouteEvent[] = []
    const client = routed(events, (c) => c)
    const forUser = (id: string) =>
      GeneratedPrisma.defineExtension((prisma) =>
        prisma.$extends({
          query: {
            $allModels: {
              async $allOperations({ args, query }) {
                const [, result] = await prisma.$transaction([prisma.$executeRaw`SELECT set_config('app.current_user_id', ${id}, TRUE)`, query(args)])
                return result
              },
            },
          },
        }),
      )
    await Promise.all(replicaNames.map((name) => local.pauseReplay(name)))
    try {
      await newClient(topology.primaryUrl).user.create({ data: { email } })
      const scoped = client.$extends(forUser('u1'))
      expect((await scoped.user.findUnique({ where: { email } }))?.email).toBe(email)
      expect((await scoped.user.findMany({ where: { email } })).map((u) => u.email)).toEqual([email])
      expect(events.filter((e) => e.target !== 'primary' || e.reason !== 'transaction').filter((e) => e.operation.startsWith('find'))).toEqual([])
    } finally {
      await Promise.all(replicaNames.map((name) => local.resumeReplay(name)))
    }
  })

  it('a read under query extensions inside a batch $transaction([...]) runs its callbacks once, on the primary, in the batch', async (ctx) => {
    const local = cluster
    if (!local) return ctx.skip('needs the local cluster: replicas are paused')
    const seen: string[] = []
    const events: RouteEvent[] = []
    const client = routed(
      events,
      (c) =>
        c.$extends({
          query: {
            $allModels: {
              $allOperations({ operation, args, query }) {
                seen.push(operation)
                return query(args)
              },
            },
          },
        }) as unknown as Base,
    )
    const email = unique('batch') + '@review'
    await Promise.all(replicaNames.map((name) => local.pauseReplay(name)))
    try {
      await newClient(topology.primaryUrl).user.create({ data: { email } })
      const [found, many] = await client.$transaction([client.user.findUnique({ where: { email } }), client.user.findMany({ where: { email } })])
      expect(found?.email).toBe(email)
      expect(many.map((u) => u.email)).toEqual([email])
      expect(seen).toEqual(['findUnique', 'findMany'])
    } finally {
      await Promise.all(replicaNames.map((name) => local.resumeReplay(name)))
    }
  })

  it('the fluent API under a query extension: the same result and callback runs as a plain client', async () => {
    const user = await seedUser('fluent')
    const writer = newClient(topology.primaryUrl)
    clients.push(writer)
    await writer.post.create({ data: { title: 't1', authorId: user.id } })
    await waitForReplication()
    const record = (seen: string[]) => (c: Base) =>
      c.$extends({
        query: {
          $allModels: {
            $allOperations({ model, operation, args, query }) {
              seen.push(`${model}.${operation} ${JSON.stringify(args)}`)
              return query(args)
            },
          },
        },
      }) as unknown as Base
    const plainSeen: string[] = []
    const routedSeen: string[] = []
    const p = plain(record(plainSeen))
    const r = routed([], record(routedSeen))
    const expected = await p.user.findUnique({ where: { id: user.id } }).posts({ select: { title: true } })
    const actual = await r.user.findUnique({ where: { id: user.id } }).posts({ select: { title: true } })
    expect(actual).toEqual(expected)
    expect(routedSeen).toEqual(plainSeen)
  })
})
