/**
 * `prisma-replica-router/testing`: a local PostgreSQL primary + N physical streaming replicas for your own test
 * suites (the same code this library's suite runs on), with fault injection. No Docker; needs the PostgreSQL
 * server binaries and the `pg` package.
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
  type LocalClusterInfo,
  type LocalServerInfo,
  type StartLocalClusterOptions,
} from './local-cluster.js'
export { prismaMigrateDeploy } from './prisma-migrate.js'
