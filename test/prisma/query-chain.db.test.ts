/**
 * Query extensions under the router (applied before readReplicas, or after it: the router re-applies itself on
 * top) on the fast read path: their callbacks are run by src/prisma/query-chain.ts, then the read is routed. Each test
 * runs the same extensions on a plain client too: what the callbacks see and what the read returns must be the
 * same, on the real cluster.
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

interface QueryInput {
  model?: string
  operation: string
  args: unknown
  query: (args: unknown) => Promise<unknown>
}

/** Two query extensions that record what they see, the first narrowing `where` in its own copy of the arguments. */
function recorders(seen: string[]) {
  const first = GeneratedPrisma.defineExtension({
    name: 'first',
    query: {
      $allModels: {
        $allOperations({ model, operation, args, query }: QueryInput) {
          seen.push(`first ${String(model)}.${operation} ${JSON.stringify(args)}`)
          const mine = args as { where?: Record<string, unknown> }
          if (operation !== 'findUnique') mine.where = { ...mine.where, email: { endsWith: '@chain' } }
          return query(mine)
        },
      },
    },
  })
  const second = GeneratedPrisma.defineExtension({
    name: 'second',
    query: {
      async $allOperations({ model, operation, args, query }: QueryInput) {
        seen.push(`second ${String(model)}.${operation} ${JSON.stringify(args)}`)
        ;(args as { marker?: unknown }).marker = undefined
        return await query(args)
      },
    },
  })
  return { first, second }
}

const routed = (events: RouteEvent[], extend: (c: ReturnType<typeof newClient>) => ReturnType<typeof newClient>) => routedOver(clients, events, extend)

/** A read's arguments as the caller passes them, kept to check that no callback changed them. */
function argsOf(email: string) {
  return { where: { email: { startsWith: email.slice(0, 6) } }, orderBy: { id: 'asc' as const }, select: { email: true, createdAt: true } }
}

describe('query extension callbacks under the router, run before it routes', () => {
  it('see what they see on a plain client (their own copy, the previous one’s changes), once each, and the read is a replica’s', async () => {
    const email = unique('chain') + '@chain'
    const writer = newClient(topology.primaryUrl)
    clients.push(writer)
    await writer.user.create({ data: { email } })
    await writer.user.create({ data: { email: email.replace('@chain', '@other') } })
    await waitForReplication()

    const plainSeen: string[] = []
    const plainExt = recorders(plainSeen)
    const plain = newClient(topology.primaryUrl).$extends(plainExt.first).$extends(plainExt.second)
    clients.push(plain)
    const routedSeen: string[] = []
    const routedExt = recorders(routedSeen)
    const events: RouteEvent[] = []
    const client = routed(events, (c) => c.$extends(routedExt.first).$extends(routedExt.second) as unknown as typeof c)

    for (const read of ['findMany', 'findFirst', 'findFirstOrThrow'] as const) {
      const plainArgs = argsOf(email)
      const routedArgs = argsOf(email)
      const expected = await (plain.user[read] as (a: unknown) => Promise<unknown>)(plainArgs)
      const actual = await (client.user[read] as (a: unknown) => Promise<unknown>)(routedArgs)
      expect(actual, read).toEqual(expected)
      expect(routedArgs, `${read}: the caller's arguments are untouched`).toEqual(argsOf(email))
    }
    const unique1 = await client.user.findUnique({ where: { email } })
    expect(unique1?.email).toBe(email)
    await plain.user.findUnique({ where: { email } })
    expect(routedSeen).toEqual(plainSeen)
    expect(routedSeen).toHaveLength(8)
    // Every one of them was read on a replica (paused or not, these rows were replicated first).
    expect(events.map((e) => `${e.reason} ${e.target}`)).toEqual(Array(4).fill('read replica'))
  })

  it('are lazy as Prisma’s: a callback that answers without `query` runs no read; one that never awaits `query` runs none either', async () => {
    const events: RouteEvent[] = []
    const answered: unknown[] = []
    const client = routed(
      events,
      (c) =>
        c.$extends({
          query: {
            user: {
              findMany: () => Promise.resolve([{ id: -1, email: 'cached' }]),
              findFirst: ({ args, query }) => {
                answered.push(query(args)) // created, never awaited
                return Promise.resolve(null)
              },
            },
          },
        }) as unknown as typeof c,
    )
    expect(await client.user.findMany()).toEqual([{ id: -1, email: 'cached' }])
    expect(await client.user.findFirst()).toBeNull()
    expect(answered).toHaveLength(1)
    expect(events).toEqual([])
  })

  it('a callback that throws, or rejects, rejects the read; nothing is routed', async () => {
    const events: RouteEvent[] = []
    const client = routed(
      events,
      (c) =>
        c.$extends({
          query: {
            user: {
              findMany: () => {
                throw new Error('refused by the extension')
              },
              findFirst: () => Promise.reject(new Error('rejected by the extension')),
            },
          },
        }) as unknown as typeof c,
    )
    await expect(client.user.findMany()).rejects.toThrow('refused by the extension')
    let caught: unknown
    await client.user.findFirst().catch((error: unknown) => (caught = error))
    expect(String(caught)).toContain('rejected by the extension')
    expect(events).toEqual([])
  })

  it('a callback that puts `query(args)` in a batch $transaction with set_config (row-level security): the read runs in it, on the primary', async (ctx) => {
    const local = cluster
    if (!local) return ctx.skip('needs the local cluster: replicas are paused')
    const email = unique('rls') + '@chain'
    const events: RouteEvent[] = []
    const batches: unknown[][] = []
    const client = routed(
      events,
      (c) =>
        c.$extends(
          GeneratedPrisma.defineExtension((inner) =>
            inner.$extends({
              query: {
                $allModels: {
                  async $allOperations({ args, query }) {
                    const results: unknown[] = await inner.$transaction([inner.$executeRaw`SELECT set_config('app.tenant', ${'acme'}, TRUE)`, query(args)])
                    batches.push(results)
                    return results[1]
                  },
                },
              },
            }),
          ),
        ) as unknown as typeof c,
    )
    await Promise.all(replicaNames.map((name) => local.pauseReplay(name)))
    try {
      await newClient(topology.primaryUrl).user.create({ data: { email } })
      // Only the primary has the row: a replica read would return null.
      expect((await client.user.findUnique({ where: { email } }))?.email).toBe(email)
      expect(batches.at(-1)?.[0]).toBe(1)
      expect(events.map((e) => e.reason)).toEqual(['transaction'])
    } finally {
      await Promise.all(replicaNames.map((name) => local.resumeReplay(name)))
    }
  })

  it('aggregates (count, aggregate, groupBy) run the callbacks once, through the client’s own pipeline', async () => {
    const seen: string[] = []
    const client = routed(
      [],
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
        }) as unknown as typeof c,
    )
    expect(typeof (await client.user.count())).toBe('number')
    await client.user.aggregate({ _max: { id: true } })
    await client.user.groupBy({ by: ['name'], _count: true, take: 1, orderBy: { name: 'asc' } })
    expect(seen).toEqual(['count', 'aggregate', 'groupBy'])
  })

  it('a replica that fails under a read: the read moves to the primary and the callbacks still ran once', async () => {
    const seen: string[] = []
    const email = unique('down') + '@chain'
    const writer = newClient(topology.primaryUrl)
    clients.push(writer)
    await writer.user.create({ data: { email } })
    // A replica whose server is not there (nothing listens on the port): a real connection failure.
    const dead = newClient(topology.primaryUrl.replace(/:(\d+)\//, ':1/'))
    const base = newClient(topology.primaryUrl)
    const events: RouteEvent[] = []
    const client = base
      .$extends({
        query: {
          $allModels: {
            $allOperations({ operation, args, query }) {
              seen.push(operation)
              return query(args)
            },
          },
        },
      })
      .$extends(readReplicas({ replicas: [dead], sticky: false, onRoute: (e) => events.push(e) }))
    clients.push(base, dead)
    expect((await client.user.findFirst({ where: { email } }))?.email).toBe(email)
    expect(seen).toEqual(['findFirst'])
    expect(events.map((e) => e.reason)).toEqual(['read', 'retry'])
  })
})
