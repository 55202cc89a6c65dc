/** Shared by the benchmarks: a seeded local cluster and simple statistics. Not a test. */
import { readFile } from 'node:fs/promises'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient as MariaClient } from '../generated/mysql/client.ts'
import { PrismaClient } from '../generated/prisma/client.ts'
import { startLocalCluster, type LocalCluster } from '../src/testing/local-cluster.ts'
import { prismaMigrateDeploy } from '../src/testing/prisma-migrate.ts'

/** A PrismaClient on `url`; `errorFormat: 'minimal'` is what Prisma uses when NODE_ENV=production. */
export const client = (url: string, errorFormat?: 'minimal' | 'colorless') =>
  new PrismaClient({ adapter: new PrismaPg({ connectionString: url }), ...(errorFormat && { errorFormat }) })

/** A local primary + `replicas` streaming replicas, migrated, with `users` users of 5 posts each, replayed. */
export async function seededCluster(replicas = 2, users = 200): Promise<{ cluster: LocalCluster; maxUserId: number }> {
  const cluster = await startLocalCluster({ replicas })
  try {
    await prismaMigrateDeploy(cluster.primaryUrl)
    const seed = client(cluster.primaryUrl)
    for (let i = 0; i < users; i++) {
      await seed.user.create({
        data: { email: `u${String(i)}@bench`, name: `User ${String(i)}`, posts: { create: Array.from({ length: 5 }, (_, j) => ({ title: `p${String(j)}` })) } },
      })
    }
    const maxUserId = (await seed.user.aggregate({ _max: { id: true } }))._max.id ?? users
    await seed.$disconnect()
    await cluster.waitForReplication()
    return { cluster, maxUserId }
  } catch (error) {
    await cluster.stop()
    throw error
  }
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

export const median = (values: readonly number[]) => percentile(values, 50)

/** A reproducible uniform random number generator in [0, 1): a 32-bit LCG (Numerical Recipes constants). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0
    return state / 2 ** 32
  }
}

/** Writes a JSON result line that bench/run-all.ts collects (after the human-readable output). */
export function emitResult(name: string, data: unknown): void {
  console.log(`@@result ${name} ${JSON.stringify(data)}`)
}

/** The engine a benchmark runs on: `--engine postgresql` (default) or `--engine mariadb`. */
export type BenchEngine = 'postgresql' | 'mariadb'

/**
 * A local primary + `replicas` replicas of `engine` with the schema's tables (PostgreSQL: migrated; MariaDB: from
 * prisma/mysql/tables.sql), a client factory, the replica entries for `readReplicas` (with the router's own
 * connection URLs on MariaDB) and the options the engine needs. MariaDB clients are typed as the PostgreSQL ones:
 * the benchmarks use the models both schemas share.
 */
export async function benchCluster(engine: BenchEngine, replicas = 2) {
  if (engine === 'postgresql') {
    const cluster = await startLocalCluster({ replicas })
    await prismaMigrateDeploy(cluster.primaryUrl)
    return {
      cluster,
      client: (url: string) => client(url),
      replica: (r: { name: string; url: string }) => ({ client: client(r.url), name: r.name }),
      options: {},
    }
  }
  const cluster = await startLocalCluster({ engine: 'mariadb', replicas })
  try {
    await cluster.runScript('primary', await readFile(new URL('../prisma/mysql/tables.sql', import.meta.url), 'utf8'))
    await cluster.waitForReplication()
  } catch (error) {
    await cluster.stop()
    throw error
  }
  const mariaClient = (url: string) => new MariaClient({ adapter: new PrismaMariaDb(`${url}?connectionLimit=10`) }) as unknown as PrismaClient
  return {
    cluster,
    client: mariaClient,
    replica: (r: { name: string; url: string }) => ({ client: mariaClient(r.url), name: r.name, connection: r.url }),
    options: { primaryConnection: cluster.primaryUrl },
  }
}
