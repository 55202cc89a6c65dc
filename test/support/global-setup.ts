import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { TestProject } from 'vitest/node'
import { startLocalCluster, waitForReplay } from '../../src/testing/local-cluster.ts'
import type { TopologyInfo } from './topology-info.ts'

const execFileAsync = promisify(execFile)

function splitUrls(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/** `prisma migrate deploy` against the PRIMARY only; replicas receive the schema through replication. */
async function migratePrimary(primaryUrl: string): Promise<void> {
  try {
    await execFileAsync('npx', ['prisma', 'migrate', 'deploy'], {
      env: { ...process.env, DATABASE_URL: primaryUrl },
    })
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string }
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.replaceAll(primaryUrl, '<primary url>')
    throw new Error(`prisma migrate deploy failed against the primary:\n${output}`)
  }
}

/**
 * Starts the topology the db tests run on, migrates the primary, waits until replicas replayed the schema.
 * - default: a local primary + 2 streaming replicas from the PostgreSQL binaries (no Docker);
 * - TEST_TOPOLOGY=containers: the same with testcontainers (needs a Docker engine);
 * - PRIMARY_URL + REPLICA_URLS: an existing topology (fault-injection tests skip).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
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
  try {
    await migratePrimary(info.primaryUrl)
    await waitForReplay(info.primaryUrl, info.replicas)
  } catch (error) {
    await stop()
    throw error
  }
  project.provide('topology', info)
  return stop
}
