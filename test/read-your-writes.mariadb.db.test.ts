/**
 * Read-your-writes on a real MariaDB primary + 2 GTID replicas (test/support/mariadb-setup.ts): the router reads
 * `@@gtid_binlog_pos` after writes and `@@gtid_slave_pos` on replicas, compared per replication domain. The same
 * behaviour on PostgreSQL: test/read-your-writes.lsn.db.test.ts.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { isInvalidConsistencyTokenError, runInScope } from '../src/index.ts'
import { healMariaReplicas, mariadb, requireMariadb, routedMariaClient } from './support/mariadb.ts'

afterEach(healMariaReplicas)

const routed = mariadb ? routedMariaClient(mariadb) : undefined
afterAll(async () => {
  await routed?.prisma.$disconnect()
})

let counter = 0
const unique = (prefix: string) => `${prefix}-${String(process.pid)}-${String(Date.now())}-${String(++counter)}`

/** `pairs` × (create on the primary, read at once) in one scope: how many reads missed their write, and where they went. */
async function createThenRead(pairs: number) {
  const { prisma, events } = routed!
  let stale = 0
  const from = events.length
  await runInScope(async () => {
    for (let i = 0; i < pairs; i++) {
      const title = unique('ryw')
      await prisma.note.create({ data: { title } })
      const found = await prisma.note.findFirst({ where: { title } })
      if (found?.title !== title) stale += 1
    }
  })
  const reads = events.slice(from).filter((e) => e.operation === 'findFirst')
  const onReplicas = reads.filter((e) => e.target === 'replica').length
  return { stale, reads: reads.length, onReplicas }
}

describe('MariaDB: read-your-writes with GTID positions', () => {
  it('routes reads to replicas and writes to the primary', async (ctx) => {
    requireMariadb(ctx)
    const { prisma, events } = routed!
    await prisma.note.count()
    await prisma.note.create({ data: { title: unique('route') } })
    const [read, write] = events.slice(-2)
    expect(read).toMatchObject({ operation: 'count', target: 'replica' })
    expect(write).toMatchObject({ operation: 'create', target: 'primary', reason: 'write' })
  })

  it('200 × (create, immediate read) in one scope: 0 stale; reads go to replicas that have applied the write', async (ctx) => {
    requireMariadb(ctx)
    const result = await createThenRead(200)
    console.log(`MariaDB, default mode, 200 × (create, read): ${String(result.stale)} stale, ${String(result.onReplicas)}/${String(result.reads)} reads on replicas`)
    expect(result.stale).toBe(0)
    expect(result.reads).toBe(200)
    expect(routed!.prisma.$routerStats().mode).toBe('gtid')
  })

  it('with 1 s MASTER_DELAY on every replica: 0 stale (reads that would be stale go to the primary)', async (ctx) => {
    const cluster = requireMariadb(ctx)
    for (const { name } of cluster.info.replicas) await cluster.setReplicaLag(name, 1000)
    try {
      const result = await createThenRead(50)
      console.log(`MariaDB, 1 s MASTER_DELAY, 50 × (create, read): ${String(result.stale)} stale, ${String(result.onReplicas)}/${String(result.reads)} reads on replicas`)
      expect(result.stale).toBe(0)
    } finally {
      for (const { name } of cluster.info.replicas) await cluster.setReplicaLag(name, 0)
    }
  })

  it('a consistency token carries the GTID position to another instance, which then reads the write', async (ctx) => {
    const cluster = requireMariadb(ctx)
    const other = routedMariaClient(cluster)
    try {
      await cluster.pauseReplay('replica-1')
      await cluster.pauseReplay('replica-2')
      const title = unique('token')
      const token = await runInScope(async () => {
        await routed!.prisma.note.create({ data: { title } })
        return await routed!.prisma.$consistencyToken()
      })
      expect(token).toMatch(/^2\.m\.0-1-\d+\.[0-9a-z]+$/)
      const found = await runInScope(() => other.prisma.note.findFirst({ where: { title } }), { token })
      expect(found?.title).toBe(title) // the replicas have not applied it: the read went to the primary
      expect(other.events.at(-1)).toMatchObject({ target: 'primary' })
    } finally {
      await other.prisma.$disconnect()
    }
  })
})

describe('MariaDB: a PostgreSQL token', () => {
  it('strict: the first query fails with InvalidConsistencyTokenError; not strict: ignored, the read is served by a replica', async (ctx) => {
    requireMariadb(ctx)
    const { prisma, events } = routed!
    const postgresToken = '1.16b374d848.lz5x0g00'
    await expect(runInScope(() => prisma.note.count(), { token: postgresToken, strict: true })).rejects.toSatisfy(isInvalidConsistencyTokenError)
    const from = events.length
    await runInScope(() => prisma.note.count(), { token: postgresToken })
    expect(events.slice(from).map((e) => e.target)).toEqual(['replica'])
  })
})
