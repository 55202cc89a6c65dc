/**
 * `prisma-replica-router/testing`: a local PostgreSQL primary + N physical streaming replicas for your own test
 * suites (the same code this library's suite runs on), with fault injection. No Docker; needs the PostgreSQL
 * server binaries and the `pg` package. `startLocalCluster({ engine: 'mariadb' })`: a MariaDB primary + N GTID
 * replicas with the same controls (needs the MariaDB server binaries and the `mariadb` package).
 * `startWebSocketProxy()`: what Neon's serverless driver (`@prisma/adapter-neon`) needs to reach it (needs `ws`).
 * `startPgBouncer()`: a real PgBouncer in front of its servers (needs Debian's `pgbouncer`).
 *
 * @example vitest globalSetup
 * ```ts
 * import { startLocalCluster } from 'prisma-replica-router/testing'
 * export default async function setup({ provide }) {
 *   const cluster = await startLocalCluster({ replicas: 2 })
 *   provide('cluster', cluster.info)
 *   return () => cluster.stop()
 * }
 * // in a test: const cluster = LocalCluster.attach(inject('cluster')); await cluster.pauseReplay('replica-1')
 * ```
 */
export {
  LocalCluster,
  PostgresBinariesNotFoundError,
  startLocalCluster,
  waitForReplay,
  type ExhaustedConnections,
  type LocalClusterInfo,
  type LocalServerInfo,
  type RecoveryConflictSettings,
  type StartLocalClusterOptions,
} from './local-cluster.js'
export { FaultProxy, startFaultProxy, type NetworkConditions, type StartFaultProxyOptions } from './fault-proxy.js'
export {
  MariadbBinariesNotFoundError,
  MariadbCluster,
  startMariadbCluster,
  type MariadbClusterInfo,
  type MariadbServerInfo,
  type StartMariadbClusterOptions,
} from './mariadb-cluster.js'
export { prismaMigrateDeploy } from './prisma-migrate.js'
export { startWebSocketProxy, WebSocketProxy, type StartWebSocketProxyOptions } from './websocket-proxy.js'
export { findPgBouncer, PgBouncer, PgBouncerNotFoundError, startPgBouncer, type PgBouncerServer, type StartPgBouncerOptions } from './pgbouncer.js'
export { SleepingReplica, sleepWhenIdle, type SleepWhenIdleOptions } from './sleeping-replica.js'
