/**
 * What the official extension's own test file (prisma/extension-read-replicas, tests/extension.test.ts) checks,
 * written for this router and run 20 times in a row, each run with a fresh client whose health checks run at
 * their default interval from its first query: the router's own queries must never show up in the logs that
 * these tests compare exactly.
 *
 * One deliberate difference. The official tests label the entries of an extension applied after the router
 * `primary`: they rely on the router skipping that extension for replica reads and for `$primary()` (its README
 * says to apply the router last). This router honours extensions applied after it (src/prisma/composition.ts): they run
 * on every query, once. So their entries are labelled `app` here, and a query ran on a replica exactly when the
 * replica's own client logged it.
 */
import { PrismaPg } from '@prisma/adapter-pg'
import { describe, expect, it } from 'vitest'
import { PrismaClient } from '../generated/prisma/client.ts'
import { readReplicas } from '../src/index.ts'
import { newClient, topology, until } from './support/db.ts'

interface LogEntry {
  readonly server: 'app' | 'replica'
  readonly operation: string
}

function createPrisma(logs: LogEntry[]) {
  const base = newClient(topology.primaryUrl)
  const replicas = topology.replicas.map((r) =>
    newClient(r.url).$extends({
      query: {
        $allOperations({ args, operation, query }) {
          logs.push({ server: 'replica', operation })
          return query(args)
        },
      },
    }),
  )
  const prisma = base.$extends(readReplicas({ replicas })).$extends({
    query: {
      $allOperations({ args, operation, query }) {
        logs.push({ server: 'app', operation })
        return query(args)
      },
    },
  })
  return { base, prisma }
}

describe.for(Array.from({ length: 20 }, (_, i) => i + 1))('the official extension’s tests, run %i of 20', (run) => {
  const logs: LogEntry[] = []
  const { base, prisma } = createPrisma(logs)
  const fresh = () => logs.splice(0)

  it('throws when given an empty replica list', () => {
    expect(() => base.$extends(readReplicas({ replicas: [] }))).toThrow('At least one replica must be specified')
  })

  it('read query is executed against replica', async () => {
    fresh()
    await prisma.user.findMany()
    expect(fresh()).toEqual([
      { server: 'app', operation: 'findMany' },
      { server: 'replica', operation: 'findMany' },
    ])
  })

  it('write query is executed against primary', async () => {
    fresh()
    await prisma.user.updateMany({ data: {} })
    expect(fresh()).toEqual([{ server: 'app', operation: 'updateMany' }])
  })

  it('$executeRaw and $executeRawUnsafe are executed against primary', async () => {
    fresh()
    await prisma.$executeRaw`SELECT 1;`
    await prisma.$executeRawUnsafe('SELECT $1 as id;', 1)
    expect(fresh()).toEqual([
      { server: 'app', operation: '$executeRaw' },
      { server: 'app', operation: '$executeRawUnsafe' },
    ])
  })

  it('$executeRaw and $executeRawUnsafe are executed against replica if $replica() is used', async () => {
    fresh()
    await prisma.$replica().$executeRaw`SELECT 1;`
    await prisma.$replica().$executeRawUnsafe('SELECT $1 as id;', 1)
    // The application's extension runs first, then the replica's client runs the query (and its own extension).
    expect(fresh()).toEqual([
      { server: 'app', operation: '$executeRaw' },
      { server: 'replica', operation: '$executeRaw' },
      { server: 'app', operation: '$executeRawUnsafe' },
      { server: 'replica', operation: '$executeRawUnsafe' },
    ])
  })

  it('read query is executed against primary if $primary() is used (the extension after ours runs)', async () => {
    fresh()
    await prisma.$primary().user.findMany()
    expect(fresh()).toEqual([{ server: 'app', operation: 'findMany' }])
  })

  it('transactional queries are executed against primary (sequential)', async () => {
    fresh()
    await prisma.$transaction([prisma.user.findMany(), prisma.user.updateMany({ data: {} })])
    expect(fresh()).toEqual([
      { server: 'app', operation: 'findMany' },
      { server: 'app', operation: 'updateMany' },
    ])
  })

  it('transactional queries are executed against primary (itx)', async () => {
    fresh()
    await prisma.$transaction(async (tx) => {
      await tx.user.findMany()
      await tx.user.updateMany({ data: {} })
    })
    expect(fresh()).toEqual([
      { server: 'app', operation: 'findMany' },
      { server: 'app', operation: 'updateMany' },
    ])
  })

  it('replica client with options: its query log sees the read and nothing else', async () => {
    const replicaLogs: LogEntry[] = []
    const replica = new PrismaClient({
      adapter: new PrismaPg({ connectionString: topology.replicas[0]!.url }),
      log: [{ emit: 'event', level: 'query' }],
    })
    replica.$on('query', () => replicaLogs.push({ server: 'replica', operation: 'replica logger' }))
    const withLog = newClient(topology.primaryUrl).$extends(readReplicas({ replicas: [replica] }))
    try {
      await withLog.user.findMany()
      // The health check's first round started with that read: compare once it has probed the replica.
      await until('the first health check of the replica', () => withLog.$replicaStatus()[0]?.replayLsn !== undefined)
      expect(replicaLogs).toEqual([{ server: 'replica', operation: 'replica logger' }])
    } finally {
      await withLog.$disconnect()
    }
  })

  it(`disconnects (run ${String(run)})`, async () => {
    await prisma.$disconnect()
  })
})
