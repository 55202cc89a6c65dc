/**
 * Route reporting: what the router tells about its work. Routing decisions (`onRoute`, DEBUG logging, attributes
 * on the active OpenTelemetry span), replica health changes (`onHealthChange`, DEBUG), and the router-wide
 * counters of `$routerStats()`, each counted where it happens, explicitly (never as a side effect of reporting).
 * A throwing listener becomes a process warning, never a failed query.
 */
import type { HealthEvent, ReplicaHealth, ReplicaLag } from './health-event.js'
import type { ResolvedOptions } from './options.js'
import { activeSpan, annotateSpan, debugLogger, formatHealth, formatRoute, spanPossible } from './observability.js'
import type { RouteEvent, RouteReason, StickyKind } from './route-event.js'

/** The code of the process warning emitted the first time each replica cancels a read for a conflict with recovery. */
export const RECOVERY_CONFLICT_WARNING = 'PRISMA_REPLICA_ROUTER_RECOVERY_CONFLICT'

/** The code of the process warning emitted the first time a read on each replica is lost with its connection. */
export const LOST_READ_WARNING = 'PRISMA_REPLICA_ROUTER_LOST_READ'

export class RouteReporter {
  private readonly onRoute: ((event: RouteEvent) => void) | undefined
  private readonly onHealthChange: ((event: HealthEvent) => void) | undefined
  /** `DEBUG=prisma-replica-router` logging, decided once. */
  private readonly debug = debugLogger()

  /** Reads done again on the primary because their replica could not be confirmed (see ReplicaReader.attempt). */
  unconfirmed = 0
  /** Reads retried after a connection-level failure (each read once). */
  retries = 0
  /** Times a read ran past `readTimeoutMs` on a replica whose server still answered (the read went on). */
  slowReads = 0
  /** Reads and read-only transactions a replica cancelled for a conflict with recovery. */
  recoveryConflicts = 0
  /** Reads given up because their connection no longer carried them (half-open), each done elsewhere. */
  lostReads = 0
  /** The warnings given once per replica, as `code replica`. */
  private readonly warned = new Set<string>()

  /** Emits the process warning `code` about `replica` the first time only. */
  private warnOnce(code: string, replica: string, message: () => string): void {
    const key = `${code} ${replica}`
    if (this.warned.has(key)) return
    this.warned.add(key)
    process.emitWarning(message(), { code })
  }

  /** Counts a read lost with its connection on `replica` (see LostReadError), and warns once per replica. */
  lostRead(replica: { readonly name: string }): void {
    this.lostReads += 1
    this.warnOnce(
      LOST_READ_WARNING,
      replica.name,
      () =>
        `prisma-replica-router: a read on replica \`${replica.name}\` was lost with its connection (the server answers, but ran nothing that old: a half-open connection) and was served elsewhere. ` +
        "The connection stays checked out of that replica client's pool until its socket fails: give the pool TCP keepalive (node-postgres: `keepAlive: true`) or a query timeout. Counted in $routerStats().lostReads; warned once per replica.",
    )
  }
  /** Rounds of health checks run (they pause while the application is idle). */
  healthChecks = 0
  /** Reads sent to the primary, or refused with `fallback: 'error'`, because no replica was usable. */
  fallbacks = 0
  /** Queries sent to the primary, by the reason of their route event (counted whether anyone listens or not). */
  readonly primaryByReason: Partial<Record<RouteReason, number>> = {}

  /**
   * Counts a read or a read-only transaction that `replica` cancelled for a conflict with recovery (its own
   * counter and the router's), and warns once per replica with what to set.
   */
  recoveryConflict(replica: { readonly name: string; recoveryConflicts: number }, what: 'read' | 'transaction'): void {
    replica.recoveryConflicts += 1
    this.recoveryConflicts += 1
    this.warnOnce(
      RECOVERY_CONFLICT_WARNING,
      replica.name,
      () =>
        `prisma-replica-router: replica \`${replica.name}\` cancelled a ${what === 'read' ? 'read (served by another server instead)' : 'read-only transaction (RecoveryConflictError)'} for a conflict with recovery (SQLSTATE 40001: WAL replay had to remove row versions it could see). ` +
        'To let its queries finish, set hot_standby_feedback = on on the replica, or raise its max_standby_streaming_delay. Counted in $routerStats().recoveryConflicts; warned once per replica.',
    )
  }

  constructor(options: Pick<ResolvedOptions, 'onRoute' | 'onHealthChange'>) {
    this.onRoute = options.onRoute
    this.onHealthChange = options.onHealthChange
  }

  /**
   * Whether a routing decision has anyone to tell: an `onRoute` listener, DEBUG logging, or an OpenTelemetry
   * span that may be active. The replica read path asks this before calling {@link route}: measured, even a
   * `route` that builds nothing costs a replica read about 2 µs (code touched between network waits).
   */
  observed(): boolean {
    return this.onRoute !== undefined || this.debug !== undefined || spanPossible()
  }

  /** Reports a routing decision: to the replica named `replica`, else to the primary. */
  route(model: string | undefined, operation: string, reason: RouteReason, replica?: string, sticky?: StickyKind): void {
    // Reads on replicas are counted by their replica (ReplicaState.reads): the replica path may skip this call.
    if (replica === undefined) this.primaryByReason[reason] = (this.primaryByReason[reason] ?? 0) + 1
    // Build the event only for someone: a listener, DEBUG logging, or an active OpenTelemetry span.
    const span = activeSpan()
    if (!this.onRoute && !this.debug && !span) return
    const event: RouteEvent =
      replica !== undefined
        ? { model, operation, target: 'replica', replica, reason }
        : sticky
          ? { model, operation, target: 'primary', reason, sticky }
          : { model, operation, target: 'primary', reason }
    if (span) annotateSpan(span, event)
    this.debug?.(formatRoute(event))
    const listener = this.onRoute
    if (listener) {
      this.safely('onRoute', () => {
        listener(event)
      })
    }
  }

  /** Reports a replica's change of health. */
  health(replica: string, state: ReplicaHealth, previous: ReplicaHealth, cause: string, lag: ReplicaLag | undefined): void {
    const listener = this.onHealthChange
    if (!listener && !this.debug) return
    const event: HealthEvent = lag ? { replica, state, previous, cause, lag } : { replica, state, previous, cause }
    this.debug?.(formatHealth(event))
    if (listener) {
      this.safely('onHealthChange', () => {
        listener(event)
      })
    }
  }

  private safely(name: string, call: () => void): void {
    try {
      call()
    } catch (error) {
      process.emitWarning(`${name} threw: ${error instanceof Error ? error.message : String(error)}`, 'PrismaReplicaRouterWarning')
    }
  }
}
