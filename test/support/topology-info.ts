import type { LocalClusterInfo } from '../../src/testing/local-cluster.ts'
import type { MariadbClusterInfo } from '../../src/testing/mariadb-cluster.ts'

/** What globalSetup hands to the test files (serializable). */
export interface TopologyInfo {
  readonly kind: 'local' | 'containers' | 'external'
  readonly primaryUrl: string
  readonly replicas: readonly { readonly name: string; readonly url: string }[]
  /** Present for the local cluster only: the servers can be paused, lagged, killed and restarted. */
  readonly local?: LocalClusterInfo
}

/** The MariaDB cluster of the db tests that run on both engines, or why there is none. */
export type MariadbTopology = { readonly cluster: MariadbClusterInfo } | { readonly missing: string }

declare module 'vitest' {
  export interface ProvidedContext {
    topology: TopologyInfo
    mariadb: MariadbTopology
    /** `neonConfig.wsProxy` of the WebSocket proxy to the cluster (the `db-neon` project), else undefined. */
    wsProxy: string | undefined
  }
}
