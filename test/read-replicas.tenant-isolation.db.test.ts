/**
 * Tenant isolation through an extension applied AFTER readReplicas, proven by a randomized, seeded run on the real
 * cluster: each request builds its tenant's client with `prisma.$extends(tenantFilter(tenant))` (the per-request
 * pattern), writes and reads through every path (model reads, fluent, `$primary()`, `$replica()`, interactive and
 * batch transactions, a function-form extension's own client), while replicas are paused, lagged and resumed.
 * Every row returned must belong to the request's tenant, and a request that wrote a row must read it back.
 * `TENANT_SEED` / `TENANT_OPERATIONS` change the run.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Prisma as GeneratedPrisma } from '../generated/prisma/client.ts'
import { readReplicas, runInScope } from '../src/index.ts'
import { healReplicas, newClient, replicaNames, requireCluster, topology, unique } from './support/db.ts'
import { Rng } from './support/session-checker/workload.ts'

const SEED = Number(process.env.TENANT_SEED ?? 20261130)
const OPERATIONS = Number(process.env.TENANT_OPERATIONS ?? 400)

const READ_OPERATIONS = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow', 'findMany', 'count', 'aggregate', 'groupBy'])

/** Every Cell read is limited to `owner = tenant`; every Cell created gets `owner = tenant`. */
function tenantFilter(tenant: string) {
  return GeneratedPrisma.defineExtension({
    name: 'tenant-filter',
    query: {
      cell: {
        $allOperations({ operation, args, query }) {
          if (READ_OPERATIONS.has(operation)) {
            const where = (args as { where?: object }).where
            return query({ ...args, where: { ...where, owner: tenant } })
          }
          if (operation === 'create') {
            const data = (args as { data: object }).data
            return query({ ...args, data: { ...data, owner: tenant } } as typeof args)
          }
          return query(args)
        },
      },
    },
  })
}

const base = newClient(topology.primaryUrl)
const prisma = base.$extends(readReplicas({ replicas: topology.replicas.map((r) => newClient(r.url)) }))
afterEach(healReplicas)
afterAll(async () => {
  await prisma.$disconnect()
})

describe(`tenant isolation, randomized (seed ${String(SEED)}, ${String(OPERATIONS)} requests, faults injected)`, () => {
  it('0 foreign rows on every read path; every request reads back what it wrote', async (ctx) => {
    const cluster = requireCluster(ctx)
    const rng = new Rng(SEED)
    const run = unique('iso')
    const tenants = ['a', 'b', 'c'].map((t) => `${run}-${t}`)
    const created = new Map<string, string[]>(tenants.map((t) => [t, []]))
    const stats = { reads: 0, writes: 0, faults: 0, rows: 0 }
    const violations: string[] = []
    const check = (tenant: string, path: string, result: unknown): void => {
      stats.reads += 1
      const rows: unknown[] = Array.isArray(result) ? result : result === null ? [] : [result]
      for (const row of rows) {
        if (typeof row !== 'object' || row === null || !('owner' in row)) continue
        stats.rows += 1
        if (row.owner !== tenant) violations.push(`${path}: tenant ${tenant} got a row of ${String(row.owner)}`)
      }
    }
    for (let i = 0; i < OPERATIONS; i++) {
      // Faults between requests: pause, lag or resume a replica's replay.
      if (rng.chance(0.05)) {
        const name = rng.pick(replicaNames)
        const fault = rng.int(0, 2)
        if (fault === 0) await cluster.pauseReplay(name)
        else if (fault === 1) await cluster.setReplicaLag(name, rng.int(1, 50))
        else {
          await cluster.resumeReplay(name)
          await cluster.setReplicaLag(name, 0)
        }
        stats.faults += 1
      }
      const tenant = rng.pick(tenants)
      const db = prisma.$extends(tenantFilter(tenant))
      const anyId = () => {
        const owner = rng.pick(tenants)
        const ids = created.get(owner) ?? []
        return ids.length > 0 ? rng.pick(ids) : `${owner}-none`
      }
      const everyOwner = { owner: { in: tenants } }
      await runInScope(async () => {
        // A request writes first now and then, and must then read its row back (read-your-writes).
        let wrote: string | undefined
        if (rng.chance(0.3)) {
          const id = `${tenant}-${String(i)}`
          const parentIds = created.get(tenant) ?? []
          const parentId = parentIds.length > 0 && rng.chance(0.5) ? rng.pick(parentIds) : undefined
          if (rng.chance(0.5)) await db.cell.create({ data: { id, owner: 'forged', parentId } })
          else {
            // Through a function-form extension's own client (it receives the routed, filtered client).
            const writer = db.$extends(
              GeneratedPrisma.defineExtension((c) =>
                c.$extends({ client: { $createCell: (data: { id: string; parentId?: string }) => c.cell.create({ data: { ...data, owner: 'forged' } }) } }),
              ),
            )
            await writer.$createCell({ id, parentId })
          }
          created.get(tenant)?.push(id)
          wrote = id
          stats.writes += 1
        }
        const path = rng.pick(['findMany', 'findFirst', 'findUnique', 'count', 'groupBy', 'fluent', 'primary', 'replica', 'interactive', 'batch'] as const)
        switch (path) {
          case 'findMany':
            check(tenant, path, await db.cell.findMany({ where: everyOwner }))
            break
          case 'findFirst':
            check(tenant, path, await db.cell.findFirst({ where: { id: anyId() } }))
            break
          case 'findUnique':
            check(tenant, path, await db.cell.findUnique({ where: { id: anyId() }, include: { children: true } }))
            break
          case 'count': {
            stats.reads += 1
            const count = await db.cell.count({ where: everyOwner })
            if (count > (created.get(tenant)?.length ?? 0)) violations.push(`count: tenant ${tenant} counted ${String(count)} rows`)
            break
          }
          case 'groupBy': {
            stats.reads += 1
            const groups = await db.cell.groupBy({ by: ['owner'], where: everyOwner, _count: { id: true } })
            for (const g of groups) if (g.owner !== tenant) violations.push(`groupBy: tenant ${tenant} got group ${g.owner}`)
            break
          }
          case 'fluent':
            check(tenant, path, await db.cell.findUnique({ where: { id: anyId() } }).children())
            break
          case 'primary':
            check(tenant, path, await db.$primary().cell.findMany({ where: everyOwner }))
            break
          case 'replica':
            if (wrote === undefined) check(tenant, path, await db.$replica().cell.findMany({ where: everyOwner }))
            break
          case 'interactive':
            check(tenant, path, await db.$transaction((tx) => tx.cell.findMany({ where: everyOwner })))
            break
          case 'batch': {
            const [rows] = await db.$transaction([db.cell.findMany({ where: everyOwner }), db.cell.count()])
            check(tenant, path, rows)
            break
          }
        }
        if (wrote !== undefined) {
          stats.reads += 1
          const own = await db.cell.findUnique({ where: { id: wrote } })
          if (own?.owner !== tenant) violations.push(`read-your-writes: ${wrote} read back as ${JSON.stringify(own)}`)
        }
      })
    }
    console.log(`tenant isolation (seed ${String(SEED)}): ${JSON.stringify(stats)}, ${String(violations.length)} violations`)
    expect(violations).toEqual([])
    expect(stats.writes).toBeGreaterThan(OPERATIONS / 10)
    expect(stats.rows, 'rows were checked').toBeGreaterThan(OPERATIONS)
    expect(stats.faults).toBeGreaterThan(0)
  })
})
