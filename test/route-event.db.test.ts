import { afterAll, expect, it } from 'vitest'
import { readReplicas, runInScope, type RouteEvent } from '../src/index.ts'
import { newClient, topology, unique } from './support/db.ts'

/** Same servers, but every URL carries a password (ignored by the servers' trust auth). */
const SECRET = 'pw-Zq81-never-logged'
const withPassword = (url: string) => url.replace('postgresql://postgres@', `postgresql://postgres:${SECRET}@`)

const events: RouteEvent[] = []
const base = newClient(withPassword(topology.primaryUrl))
const prisma = base.$extends(
  readReplicas({
    replicas: topology.replicas.map((r) => ({ client: newClient(withPassword(r.url)), name: r.name })),
    sticky: { mode: 'window', windowMs: 60_000 },
    onRoute: (e) => events.push(e),
  }),
)
afterAll(() => prisma.$disconnect())

/** In one scope: a read, a write, a read after it, raw SQL, a batch transaction, `$primary()`, `$replica(name)`. */
async function everyRoute(client: typeof prisma): Promise<void> {
  await runInScope(async () => {
    await client.note.findMany({ take: 1 })
    const note = await client.note.create({ data: { title: unique('event') } })
    await client.note.findUnique({ where: { id: note.id } })
    await client.$queryRaw`SELECT 1`
    await client.$transaction([client.note.count()])
    await client.$primary().note.count()
    await client.$replica('replica-2').note.count()
  })
}

it('reports every reason, with the exact event shape, and never a URL or password', async () => {
  await everyRoute(prisma)
  expect(events).toEqual([
    { model: 'Note', operation: 'findMany', target: 'replica', replica: 'replica-1', reason: 'read' },
    { model: 'Note', operation: 'create', target: 'primary', reason: 'write' },
    { model: 'Note', operation: 'findUnique', target: 'primary', reason: 'sticky', sticky: 'window' },
    { model: undefined, operation: '$queryRaw', target: 'primary', reason: 'raw' },
    { model: 'Note', operation: 'count', target: 'primary', reason: 'transaction' },
    { model: 'Note', operation: 'count', target: 'primary', reason: 'forced-primary' },
    { model: 'Note', operation: 'count', target: 'replica', replica: 'replica-2', reason: 'forced-replica' },
  ])
  const serialized = JSON.stringify(events)
  expect(serialized).not.toContain(SECRET)
  expect(serialized).not.toContain('postgresql://')
  expect(serialized).not.toContain('127.0.0.1')
})

it('$routerStats().routed counts every route by target and reason, with or without a listener, as the events say', async () => {
  // The same queries through a client with no onRoute (the replica read path then builds no event at all).
  const quiet = newClient(topology.primaryUrl).$extends(
    readReplicas({
      replicas: topology.replicas.map((r) => ({ client: newClient(r.url), name: r.name })),
      sticky: { mode: 'window', windowMs: 60_000 },
      policy: 'round-robin',
    }),
  )
  try {
    await quiet.note.findMany({ take: 1 }) // round-robin: then the sequence's first read is replica-2's
    await everyRoute(quiet)
    expect(quiet.$routerStats().routed).toEqual({
      primary: { write: 1, sticky: 1, raw: 1, transaction: 1, 'forced-primary': 1 },
      replicas: { 'replica-1': 1, 'replica-2': 2 },
    })
  } finally {
    await quiet.$disconnect()
  }
})
