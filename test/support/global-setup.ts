import type { TestProject } from 'vitest/node'
import { startLocalCluster, waitForReplay } from '../../src/testing/local-cluster.ts'
import { prismaMigrateDeploy } from '../../src/testing/prisma-migrate.ts'
import { startWebSocketProxy, type WebSocketProxy } from '../../src/testing/websocket-proxy.ts'
import { assertPrimary } from '../../src/check-primary.ts'
import type { MariadbTopology, TopologyInfo } from './topology-info.ts'
import { startMariadbTopology } from './mariadb-setup.ts'

function splitUrls(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/**
 * Starts the topology the db tests run on, migrates the primary, waits until replicas replayed the schema.
 * - default: a local primary + 2 streaming replicas from the PostgreSQL binaries (no Docker);
 * - TEST_TOPOLOGY=containers: the same with testcontainers (needs a Docker engine);
 * - PRIMARY_URL + REPLICA_URLS: an existing topology (fault-injection tests skip).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // MariaDB starts beside PostgreSQL (about 1 s, in parallel): the tests that run on both engines use it.
  const mariadb = startMariadbTopology()
  let info: TopologyInfo
  let stop: () => Promise<void>
  if (process.env.PRIMARY_URL) {
    const replicaUrls = splitUrls(process.env.REPLICA_URLS ?? '')
    if (replicaUrls.length === 0) throw new Error('PRIMARY_URL is set but REPLICA_URLS is empty: give at least one replica URL')
    info = {
      kind: 'external',
      primaryUrl: process.env.PRIMARY_URL,
      replicas: replicaUrls.map((url, i) => ({ name: `replica-${String(i + 1)}`, url })),
    }
    stop = () => Promise.resolve()
  } else if (process.env.TEST_TOPOLOGY === 'containers') {
    const { startContainerCluster } = await import('./container-cluster.ts')
    const cluster = await startContainerCluster({ replicas: 2 })
    info = {
      kind: 'containers',
      primaryUrl: cluster.primaryUrl,
      replicas: cluster.replicaUrls.map((url, i) => ({ name: `replica-${String(i + 1)}`, url })),
    }
    stop = () => cluster.stop()
  } else {
    const cluster = await startLocalCluster({ replicas: 2 })
    info = {
      kind: 'local',
      primaryUrl: cluster.primaryUrl,
      replicas: cluster.info.replicas.map((r) => ({ name: r.name, url: r.url })),
      local: cluster.info,
    }
    stop = () => cluster.stop()
  }
  let maria: { topology: MariadbTopology; stop: () => Promise<void> }
  try {
    await assertPrimary(info.primaryUrl, 'PRIMARY_URL') // the guard users run before migrating
    await prismaMigrateDeploy(info.primaryUrl)
    await waitForReplay(info.primaryUrl, info.replicas)
    maria = await mariadb
  } catch (error) {
    await stop()
    await (await mariadb.catch(() => undefined))?.stop()
    throw error
  }
  // The db-neon project (TEST_DRIVER=neon): Neon's serverless driver reaches the cluster through a WebSocket proxy.
  let proxy: WebSocketProxy | undefined
  if ((project.config.env as Record<string, string> | undefined)?.TEST_DRIVER === 'neon') proxy = await startWebSocketProxy()
  project.provide('topology', info)
  project.provide('mariadb', maria.topology)
  project.provide('wsProxy', proxy?.wsProxy)
  return async () => {
    await proxy?.close()
    await Promise.all([stop(), maria.stop()])
  }
}
