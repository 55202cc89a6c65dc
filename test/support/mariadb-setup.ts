import { readFile } from 'node:fs/promises'
import { MariadbBinariesNotFoundError, startMariadbCluster } from '../../src/testing/mariadb-cluster.ts'
import type { MariadbTopology } from './topology-info.ts'

/**
 * The MariaDB primary + 2 GTID replicas of the db tests that run on both engines, with the tables of
 * prisma/mysql/schema.prisma (from prisma/mysql/tables.sql: the offline schema engine is PostgreSQL-only). Without
 * MariaDB server binaries those tests skip, saying so.
 */
export async function startMariadbTopology(): Promise<{ topology: MariadbTopology; stop: () => Promise<void> }> {
  let cluster
  try {
    cluster = await startMariadbCluster({ replicas: 2 })
  } catch (error) {
    if (error instanceof MariadbBinariesNotFoundError) return { topology: { missing: error.message }, stop: () => Promise.resolve() }
    throw error
  }
  try {
    await cluster.runScript('primary', await readFile(new URL('../../prisma/mysql/tables.sql', import.meta.url), 'utf8'))
    await cluster.waitForReplication()
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return { topology: { cluster: cluster.info }, stop: () => cluster.stop() }
}
