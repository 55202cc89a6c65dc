import type { ReplicaStatus } from './health-event.js'
import type { RouterStats } from './router.js'

/** What {@link prometheusMetrics} reads: any client extended with `readReplicas()`. */
export interface ReplicaRouterClientLike {
  /** Each replica's state, lag and counters. */
  $replicaStatus(): ReplicaStatus[]
  /** The router-wide counters. */
  $routerStats(): RouterStats
}

const STATES = ['up', 'down', 'lagging', 'waking'] as const

/** Prometheus label value escaping (backslash, double quote, newline). */
const label = (value: string) => value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')

/**
 * The router's state in the Prometheus text exposition format (version 0.0.4), for a `/metrics` endpoint:
 * per replica its state, lag, in-flight queries, reads and failures; router-wide retries, fallbacks and the
 * round trips of read-your-writes. Replicas are labelled by name only.
 *
 * @example
 * ```ts
 * app.get('/metrics', (req, res) => res.type('text/plain; version=0.0.4').send(prometheusMetrics(prisma)))
 * ```
 */
export function prometheusMetrics(client: ReplicaRouterClientLike, options: { prefix?: string } = {}): string {
  const p = options.prefix ?? 'prisma_replica_router'
  const replicas = client.$replicaStatus()
  const stats = client.$routerStats()
  const lines: string[] = []
  const family = (name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${p}_${name} ${help}`, `# TYPE ${p}_${name} ${type}`)
    for (const [labels, value] of samples) lines.push(`${p}_${name}${labels} ${String(value)}`)
  }
  const byReplica = (value: (r: ReplicaStatus) => number | undefined) =>
    replicas.flatMap((r): [string, number][] => {
      const v = value(r)
      return v === undefined ? [] : [[`{replica="${label(r.name)}"}`, v]]
    })
  family(
    'replica_state',
    'gauge',
    'Replica state: 1 for the current one of up, down, lagging.',
    replicas.flatMap((r) => STATES.map((s): [string, number] => [`{replica="${label(r.name)}",state="${s}"}`, r.state === s ? 1 : 0])),
  )
  family(
    'replica_lag_milliseconds',
    'gauge',
    'Last measured replication lag in time.',
    byReplica((r) => r.lag?.ms),
  )
  family(
    'replica_lag_bytes',
    'gauge',
    'Last measured replication lag in WAL bytes.',
    byReplica((r) => r.lag?.bytes),
  )
  family(
    'replica_in_flight',
    'gauge',
    'Queries in flight on the replica.',
    byReplica((r) => r.inFlight),
  )
  family(
    'replica_reads_total',
    'counter',
    'Reads served by the replica.',
    byReplica((r) => r.reads),
  )
  family(
    'replica_failures_total',
    'counter',
    'Connection-level failures on the replica.',
    byReplica((r) => r.failures),
  )
  family(
    'primary_queries_total',
    'counter',
    'Queries sent to the primary, by the reason of their route (write, raw, transaction, sticky, fallback, rule, forced-primary, retry).',
    Object.entries(stats.routed.primary).map(([reason, n]): [string, number] => [`{reason="${label(reason)}"}`, n]),
  )
  family('retries_total', 'counter', 'Reads retried after a connection-level failure.', [['', stats.retries]])
  family('fallbacks_total', 'counter', 'Reads that found no usable replica (sent to the primary or refused).', [['', stats.fallbacks]])
  family('unconfirmed_total', 'counter', 'Replica reads done again on the primary: their replica could not be confirmed.', [['', stats.unconfirmed]])
  family('position_queries_total', 'counter', 'Primary WAL position queries for read-your-writes.', [['', stats.positionQueries]])
  family('replica_checks_total', 'counter', 'Replica replay position checks for read-your-writes and monotonic reads.', [['', stats.replicaChecks]])
  family('slow_reads_total', 'counter', 'Reads past readTimeoutMs on a replica that still answered the router (left to finish, not retried).', [['', stats.slowReads]])
  family('recovery_conflicts_total', 'counter', 'Reads and read-only transactions a replica cancelled for a conflict with recovery (reads retried elsewhere).', [
    ['', stats.recoveryConflicts],
  ])
  family('lost_reads_total', 'counter', 'Reads lost with a half-open connection (the server answered, but ran nothing that old), done elsewhere.', [['', stats.lostReads]])
  family('health_checks_total', 'counter', 'Rounds of health checks (paused while the application is idle).', [['', stats.healthChecks]])
  return `${lines.join('\n')}\n`
}
