/**
 * The replica set: every replica's live state (health, lag, replay position, the server behind it and its
 * incarnation, in-flight and read counters), which of them are in rotation, the routing policy's choice among
 * them, and their status. All the health monitor needs; consistency (scopes, positions) is src/router.ts.
 */
import { AbandonedReadError, connectionErrorCause } from './connection-error.js'
import { UnknownReplicaError, RoutingPolicyError } from './errors/index.js'
import type { ReplicaHealth, ReplicaLag, ReplicaStatus } from './health-event.js'
import type { Dialect, ReplayObservation } from './dialects/dialect.js'
import { postgresql } from './dialects/postgresql.js'
import { covers, type Position } from './position.js'
import type { PrismaClientLike, ResolvedOptions, ResolvedReplica } from './options.js'
import type { ReplicaCandidate, RoutingContext, RoutingPolicy } from './policies/routing-policy.js'
import { FreshQuery } from './primary-position.js'
import type { RouteReporter } from './route-reporter.js'
import { tick } from './scope.js'
import type { ServerLink } from './server-link.js'

/** Servers remembered per replica entry (enough to tell one server, restarts and a pool apart). */
const MAX_SERVERS = 16

/** `address:port@start time` -> `address:port`. */
function endpoint(server: string): string {
  const at = server.indexOf('@')
  return at === -1 ? server : server.slice(0, at)
}

/** A replica's live state. Doubles as the candidate a policy sees (read-only to it). */
export interface ReplicaState extends ReplicaCandidate {
  readonly client: PrismaClientLike
  /** How the router's own queries (health checks, replay checks) reach this replica. */
  readonly link: ServerLink
  inFlight: number
  state: ReplicaHealth
  cause: string | undefined
  lag: ReplicaLag | undefined
  /**
   * Lower bound of the replica's replay position, from health checks and LSN checks: positions only grow on
   * one server. Forgotten when the replica fails or another start of its server answers (a server restarted
   * after a crash may open below the position it had reached).
   */
  replay: Position | undefined
  /**
   * The tick at which the latest check of this server started: {@link replay} is at least the position the
   * server had then (an upper bound of what any read it finished before that tick saw).
   */
  replayCheckedAt: number
  /** The tick at which {@link replay} was last raised (its check had ended): a later check cannot report less. */
  replayObservedAt: number
  /** The server that answered the last check (`address:port@start time`). */
  server: string | undefined
  /** Servers seen answering through this entry (at most {@link MAX_SERVERS}). */
  readonly servers: Set<string>
  /**
   * More than one server answers through this entry (configured `pooled: true`, or detected): a replay
   * position it reports belongs to whichever server answered, so reads that must see a scope's writes, or be
   * monotonic, never go through it.
   */
  pooled: boolean
  /**
   * The health check's identification of who answers through this entry has completed once (see
   * HealthMonitor.identify): until then, it may be several servers, and read-your-writes and monotonic reads do
   * not rely on it ({@link singleServer}).
   */
  identified: boolean
  /**
   * Bumped whenever the server behind this entry may have gone back in time: it restarted (a new start time at
   * the same address), its position went backwards (a crash and reinitialisation keeps the start time), or a
   * query on it failed at the connection level. A read that relied on a cached position is confirmed by a
   * check that started after it ended and saw the same incarnation (see ReplicaReader).
   */
  incarnation: number
  /** Replay checks of this replica, shared by concurrent readers; the health check's observations count too. */
  readonly checks: FreshQuery<ReplayObservation>
  /** When a read's wait for this replica to replay its scope's writes last ran out (`sticky.waitMs`; ms, monotonic). */
  waitMissedAt: number
  reads: number
  failures: number
  /** Reads and read-only transactions it cancelled for a conflict with recovery (see isRecoveryConflict). */
  recoveryConflicts: number
  /** Reads in flight on it that are given up if it goes down (see {@link ReadInFlight.onAbandon}). */
  readonly reading: Set<ReadInFlight>
}

/**
 * A read in flight on a replica, counted in its `inFlight` from construction until {@link ReadInFlight.end}:
 * `end(true)` when the replica served it (counted in its reads), `end(false)` when it failed or was given up.
 * Only the first call counts; later ones return false (a late result of a read given up at its deadline is
 * dropped).
 */
export class ReadInFlight {
  /** True until {@link end} is called. */
  open = true
  /**
   * Called when the replica goes down under the read (a connection-level failure elsewhere: its server is gone,
   * so the read cannot finish there): the read is given up and done elsewhere at once, instead of waiting for
   * its driver's own timeout (a pool waiting for a connection to a dead server). Not for a server that is only
   * slow (a timeout), nor for reads sent to one replica on purpose (`$replica()`).
   */
  onAbandon: ((cause: string) => void) | undefined

  /** Counted in its replica's `inFlight` (until it ends, or is {@link detach}ed). */
  counted = true

  constructor(private readonly replica: ReplicaState) {
    replica.inFlight++
    replica.reading.add(this)
  }

  end(served: boolean): boolean {
    if (!this.open) return false
    this.open = false
    this.uncount()
    if (served) this.replica.reads++
    return true
  }

  /**
   * No longer counted in flight (the client was disconnected under it: `$disconnect()`), though it may still
   * settle, as the replica client settles it; it then ends as usual.
   */
  detach(): void {
    this.uncount()
  }

  private uncount(): void {
    if (!this.counted) return
    this.counted = false
    this.replica.inFlight--
    this.replica.reading.delete(this)
  }
}

/** Failures that say a server is slow or full, not gone: reads in flight on it may still finish. */
const NOT_GONE = new Set(['timeout', 'TooManyConnections', '53300', 'errno 1040'])

/** How long disconnecting waits for a replica's client once no read of it is in flight (ms). */
const DISCONNECT_GRACE_MS = 500

async function disconnectReplica(replica: ReplicaState): Promise<void> {
  const disconnected = replica.client.$disconnect()
  let timer: NodeJS.Timeout | undefined
  const givenUp = new Promise<void>((resolve) => {
    const poll = (): void => {
      timer = setTimeout(replica.inFlight === 0 ? resolve : poll, replica.inFlight === 0 ? DISCONNECT_GRACE_MS : 20)
    }
    poll()
  })
  try {
    await Promise.race([disconnected, givenUp])
  } finally {
    clearTimeout(timer)
    disconnected.catch(() => undefined)
  }
}

export class ReplicaSet {
  readonly replicas: readonly ReplicaState[]
  private readonly policy: RoutingPolicy
  /** Replicas in rotation (state `up`), in configuration order. Rebuilt on every state change only. */
  private usable: readonly ReplicaState[]
  /** A round of health checks has completed (set by the health check): what it found of each replica is known. */
  checked = false

  /** @param linkTo how the router's own queries reach a replica. */
  constructor(
    options: Pick<ResolvedOptions, 'replicas' | 'policy'>,
    private readonly report: RouteReporter,
    linkTo: (replica: ResolvedReplica) => ServerLink,
    /** How positions are read and printed (src/dialects/). */
    private readonly dialect: Dialect = postgresql,
  ) {
    this.replicas = options.replicas.map((r) => {
      const link = linkTo(r)
      const replica: ReplicaState = {
        ...r,
        link,
        inFlight: 0,
        state: 'up',
        cause: undefined,
        lag: undefined,
        replay: undefined,
        replayCheckedAt: 0,
        replayObservedAt: 0,
        server: undefined,
        servers: new Set<string>(),
        pooled: r.pooled,
        identified: false,
        incarnation: 0,
        checks: new FreshQuery(async (startedAt) => {
          const observed = await dialect.replicaPosition(link, true)
          this.observeReplay(replica, observed, startedAt)
          return observed
        }),
        waitMissedAt: -Infinity,
        reads: 0,
        failures: 0,
        recoveryConflicts: 0,
        reading: new Set(),
      }
      return replica
    })
    this.usable = this.replicas
    this.policy = options.policy
  }

  /** Whether a replica is `waking` (see ReplicaHealth). */
  get waking(): boolean {
    return this.replicas.some((r) => r.state === 'waking')
  }

  /** Resolves once a waking replica is back in rotation, none is waking any more, or after `ms`. */
  woken(ms: number): Promise<void> {
    if (!this.waking) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.wakeWaiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms) // a read waits for it: it keeps the process alive meanwhile
      this.wakeWaiters.add(done)
    })
  }

  private readonly wakeWaiters = new Set<() => void>()

  /** How many replicas are in rotation. */
  get inRotation(): number {
    return this.usable.length
  }

  /** Whether a replica in rotation passes `allow` (no policy is consulted). */
  anyUsable(allow: (r: ReplicaState) => boolean): boolean {
    return this.usable.some(allow)
  }

  get names(): string[] {
    return this.replicas.map((r) => r.name)
  }

  /**
   * Records what a check of a replica that started at tick `startedAt` saw. Tells apart one server (positions
   * only grow), a server that went back in time — restarted (same address, new start time) or reinitialised
   * after a crash (same start time, position lower than an earlier check that had ended before this one
   * started): a new incarnation, whose position starts from what it reports now — and an entry that is really
   * several servers (another address answers, or a server seen before answers again): pooled. A server not in
   * recovery reports no position: it has none that read-your-writes could rely on.
   */
  observeReplay(replica: ReplicaState, observed: ReplayObservation, startedAt: number): void {
    const { lsn, server } = observed
    if (server !== undefined && server !== replica.server) {
      const previous = replica.server
      if (previous !== undefined) {
        if (replica.servers.has(server) || endpoint(server) !== endpoint(previous)) this.markPooled(replica)
        else this.newIncarnation(replica)
      }
      replica.server = server
      if (replica.servers.size < MAX_SERVERS) replica.servers.add(server)
    } else if (lsn !== undefined && replica.replay !== undefined && !covers(lsn, replica.replay) && startedAt > replica.replayObservedAt) {
      this.newIncarnation(replica)
    }
    if (lsn === undefined) {
      replica.replay = undefined
      return
    }
    if (replica.replay === undefined || !covers(replica.replay, lsn)) {
      replica.replay = lsn
      replica.replayObservedAt = tick()
    }
    if (startedAt > replica.replayCheckedAt) replica.replayCheckedAt = startedAt
  }

  /** The server behind `replica` may have gone back in time: forget its position, and confirm reads in flight. */
  newIncarnation(replica: ReplicaState): void {
    replica.incarnation += 1
    replica.replay = undefined
    replica.replayCheckedAt = 0
  }

  /** Takes a replica entry out of read-your-writes and monotonic reads, saying so once. */
  private markPooled(replica: ReplicaState): void {
    if (replica.pooled) return
    replica.pooled = true
    process.emitWarning(
      `replica \`${replica.name}\` is served by more than one server (two different servers answered through it): a pooler or a load balancer in front of several standbys. Reads that must see a scope's writes, or be monotonic, no longer use it; plain reads still do. Configure it with \`pooled: true\` to say so up front (and silence this warning).`,
      'PrismaReplicaRouterWarning',
    )
  }

  /**
   * Chooses a replica in rotation through the policy (or `policy`), leaving out `exclude` (a replica that just
   * failed) and any replica `accept` refuses. `undefined` when none is left.
   */
  pick(context: RoutingContext, exclude?: ReplicaState, accept?: (r: ReplicaState) => boolean, policy: RoutingPolicy = this.policy): ReplicaState | undefined {
    const candidates = exclude || accept ? this.usable.filter((r) => r !== exclude && (!accept || accept(r))) : this.usable
    if (candidates.length === 0) return undefined
    const chosen = policy.pick(candidates, context)
    if (!candidates.includes(chosen as ReplicaState)) {
      throw new RoutingPolicyError(policy.name, 'returned a value that is not one of the candidates it was given')
    }
    return chosen as ReplicaState
  }

  /** Among replicas in rotation that `allow` accepts, the one that has replayed furthest as far as we know. */
  mostAdvanced(context: RoutingContext, allow?: (r: ReplicaState) => boolean, policy?: RoutingPolicy): ReplicaState | undefined {
    let best: Position | undefined
    for (const r of this.usable) {
      if ((!allow || allow(r)) && r.replay !== undefined && (best === undefined || !covers(best, r.replay))) best = r.replay
    }
    // With GTID positions (a partial order), the last one not covered by those before it: advanced, if not the
    // most. When no position is known at all, any of them (a check will tell).
    const furthest = (r: ReplicaState): boolean => (best === undefined ? r.replay === undefined : r.replay !== undefined && covers(r.replay, best))
    return this.pick(context, undefined, (r) => (!allow || allow(r)) && furthest(r), policy)
  }

  /** The replica called `name`. */
  byName(name: string): ReplicaState {
    const found = this.replicas.find((r) => r.name === name)
    if (!found) throw new UnknownReplicaError(name, this.names)
    return found
  }

  /** Moves a replica to `state`; reports the change to `onHealthChange` when it is one. */
  setHealth(replica: ReplicaState, state: ReplicaHealth, cause: string, lag?: ReplicaLag): void {
    if (lag) replica.lag = lag
    const previous = replica.state
    if (previous === state) return
    replica.state = state
    replica.cause = cause
    this.usable = this.replicas.filter((r) => r.state === 'up')
    this.report.health(replica.name, state, previous, cause, lag)
    if (previous === 'waking' && (state === 'up' || !this.waking)) for (const done of [...this.wakeWaiters]) done()
  }

  /** A connection-level failure on a replica: counts it and takes the replica out of rotation at once. */
  fail(replica: ReplicaState, cause: string): void {
    replica.failures += 1
    this.newIncarnation(replica) // it may come back restarted, below the position it had reached
    this.setHealth(replica, 'down', cause)
    if (!NOT_GONE.has(cause)) for (const read of [...replica.reading]) read.onAbandon?.(cause)
  }

  /**
   * True when `error` is a connection-level failure (see src/connection-error.ts): then `replica` fails (see
   * {@link fail}). False for an error of the query itself, which says nothing of the replica's health.
   */
  failedBy(replica: ReplicaState, error: unknown): boolean {
    const cause = connectionErrorCause(error)
    if (cause === undefined) return false
    // A read given up because this replica went down: that failure was counted when it happened.
    if (!(error instanceof AbandonedReadError)) this.fail(replica, cause)
    return true
  }

  /**
   * Disconnects every replica's client, but waits no longer for one than until its reads in flight have ended or
   * been given up, plus {@link DISCONNECT_GRACE_MS}: a read given up on a frozen server holds its pool connection
   * until the server answers, and the client's disconnect waits for it (it then finishes in the background).
   */
  async disconnect(): Promise<void> {
    await Promise.all(this.replicas.map((r) => disconnectReplica(r)))
    // Reads still in flight belong to disconnected clients (Prisma 7 may never settle a query sent while its
    // client disconnects, as on a plain client): they are no longer counted in `inFlight`.
    for (const replica of this.replicas) for (const read of [...replica.reading]) read.detach()
  }

  /** Every replica's name and state, for `NoReplicaAvailableError`. */
  states(): { name: string; state: ReplicaHealth }[] {
    return this.replicas.map((r) => ({ name: r.name, state: r.state }))
  }

  /** Every replica with its state, lag and counters, for `$replicaStatus()`. */
  status(): ReplicaStatus[] {
    return this.replicas.map((r) => ({
      name: r.name,
      state: r.state,
      cause: r.cause,
      lag: r.lag,
      replayLsn: r.replay === undefined ? undefined : this.dialect.format(r.replay),
      pooled: r.pooled,
      inFlight: r.inFlight,
      reads: r.reads,
      failures: r.failures,
      recoveryConflicts: r.recoveryConflicts,
    }))
  }
}

/**
 * Whether reads that must see a scope's writes, or be monotonic, may rely on `replica`'s replay position: one
 * server answers through it, as far as the router can tell (identified, and not pooled).
 */
export function singleServer(replica: Pick<ReplicaState, 'pooled' | 'identified'>): boolean {
  return replica.identified && !replica.pooled
}
