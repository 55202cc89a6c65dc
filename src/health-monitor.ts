import { connectionErrorCause } from './connection-error.js'
import { LagTracker, queryPrimaryLsn, queryReplay, type ReplayObservation } from './lag-tracker.js'
import type { PrismaClientLike, ResolvedOptions } from './options.js'
import type { ReplicaState, Router } from './router.js'
import { tick } from './scope.js'

class ProbeTimeout extends Error {
  override name = 'ProbeTimeout'
  readonly code = 'timeout'
}

/** Resolves with `promise`, or rejects with a ProbeTimeout after `ms`. The timer never keeps the process alive. */
async function within<T>(promise: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new ProbeTimeout())
    }, ms)
    timer.unref()
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * In each of the first {@link IDENTIFY_FIRST} rounds, then every {@link IDENTIFY_EVERY}th, each replica gets
 * {@link IDENTIFY_PROBES} probes at once.
 */
const IDENTIFY_FIRST = 5
const IDENTIFY_EVERY = 10
const IDENTIFY_PROBES = 3

/**
 * The background health check of one router: every `intervalMs`, one cheap query on the primary
 * (`pg_current_wal_insert_lsn()`) and one on each replica (`pg_last_wal_replay_lsn()`), each with its own timeout.
 * A replica that fails leaves rotation; one that answers (and is within `maxLag`) comes back.
 * Lazy: starts with the first query; `stop()` (on `$disconnect()`) ends it; the timer is `unref`'d.
 */
export class HealthMonitor {
  private readonly tracker = new LagTracker()
  private timer: NodeJS.Timeout | undefined
  private current: Promise<void> | undefined
  private running = false
  /** Replicas whose previous probe has not answered yet (a hung server): not probed again meanwhile. */
  private readonly pending = new Set<ReplicaState>()
  /**
   * The last replay position each replica reported, kept while it is down: the lag samples it needs when it
   * comes back must not be forgotten because the other replicas moved on.
   */
  private readonly lastReplay = new Map<ReplicaState, bigint>()
  /** Rounds of checks run so far. */
  private rounds = 0

  /** Whether `maxLag` sets any limit (then a replica whose lag cannot be measured stays out of rotation). */
  private readonly lagLimited: boolean

  constructor(
    private readonly router: Router,
    private readonly primary: PrismaClientLike,
    private readonly options: Pick<ResolvedOptions, 'health' | 'maxLag'>,
  ) {
    this.lagLimited = options.maxLag.ms !== undefined || options.maxLag.bytes !== undefined
  }

  /** Starts the loop unless it runs; the first check runs at once. Cheap enough for every query. */
  ensureStarted(): void {
    if (this.running) return
    this.running = true
    this.schedule(0)
  }

  /** Stops the loop and waits for a check in progress, so no query runs after `$disconnect()`. */
  async stop(): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    await this.current
  }

  /** Fixed rate: checks start every `intervalMs` (not `intervalMs` after the previous one ended), never overlapping. */
  private schedule(delay: number): void {
    this.timer = setTimeout(() => {
      const started = performance.now()
      this.current = this.check().finally(() => {
        this.current = undefined
        const elapsed = performance.now() - started
        if (this.running) this.schedule(Math.max(0, this.options.health.intervalMs - elapsed))
      })
    }, delay)
    this.timer.unref()
  }

  /** One round of checks. Never throws. */
  async check(): Promise<void> {
    this.rounds += 1
    const { timeoutMs } = this.options.health
    const startedAt = tick()
    const primaryLsn = await within(queryPrimaryLsn(this.primary), timeoutMs).catch(
      () => undefined, // the primary's own trouble is not the replicas' health: lag is just not measurable now
    )
    const at = performance.now()
    if (primaryLsn !== undefined) {
      this.tracker.record(primaryLsn, at)
      this.router.primaryPosition.observe(startedAt, primaryLsn)
    }
    const replays = await Promise.all(this.router.replicas.map((replica) => this.checkReplica(replica, primaryLsn !== undefined)))
    this.router.replicas.forEach((replica, i) => {
      const replay = replays[i]
      if (replay !== undefined) this.lastReplay.set(replica, replay)
    })
    // Samples below every replica's last position are needed by none; until each replica answered once, all are.
    if (this.lastReplay.size === this.router.replicas.length) {
      this.tracker.prune([...this.lastReplay.values()].reduce((a, b) => (a < b ? a : b)))
    }
  }

  /** A replica alive whose lag cannot be measured: usable only when no lag limit must be enforced. */
  private unmeasurable(replica: ReplicaState): void {
    this.router.setHealth(replica, this.lagLimited ? 'down' : 'up', 'lag-unmeasurable')
  }

  private async checkReplica(replica: ReplicaState, lagMeasurable: boolean): Promise<bigint | undefined> {
    const { timeoutMs } = this.options.health
    let observed: ReplayObservation[]
    const startedAt = tick()
    try {
      if (this.pending.has(replica)) throw new ProbeTimeout()
      // Now and then, several probes at once: a pool spreads them over connections, so an entry that is really
      // several servers (a pooler, a load balancer) shows more than one; see Router.observeReplay.
      const count = this.rounds <= IDENTIFY_FIRST || this.rounds % IDENTIFY_EVERY === 0 ? IDENTIFY_PROBES : 1
      const probe = Promise.all(Array.from({ length: count }, () => queryReplay(replica.client)))
      this.pending.add(replica)
      void probe.then(
        () => this.pending.delete(replica),
        () => this.pending.delete(replica),
      )
      observed = await within(probe, timeoutMs)
    } catch (error) {
      const cause = error instanceof ProbeTimeout ? error.code : connectionErrorCause(error)
      if (cause === undefined) {
        // The server answered, with an error of the query: alive, but it cannot report its replay position
        // (e.g. not PostgreSQL streaming replication).
        this.unmeasurable(replica)
      } else if (replica.state !== 'down') this.router.fail(replica, cause)
      return undefined
    }
    let replay: bigint | undefined
    for (const observation of observed) {
      this.router.observeReplay(replica, observation, startedAt)
      replica.checks.observe(startedAt, observation)
      const { lsn } = observation
      if (lsn !== undefined && (replay === undefined || lsn < replay)) replay = lsn // the lag is the furthest behind
    }
    if (replay === undefined) {
      // Not in recovery (a promoted standby, a logical subscriber, a primary by mistake): it has no replay
      // position, so read-your-writes never relies on it.
      this.unmeasurable(replica)
      return undefined
    }
    if (!lagMeasurable) {
      // Without the primary's position the lag is unknown: re-admit only when no lag limit is configured.
      if (replica.state === 'down' && !this.lagLimited) this.router.setHealth(replica, 'up', 'recovered')
      return replay
    }
    const lag = { ms: Math.round(this.tracker.lagMs(replay, performance.now())), bytes: this.tracker.lagBytes(replay) }
    const { ms: maxMs, bytes: maxBytes } = this.options.maxLag
    if (maxMs !== undefined && lag.ms > maxMs) this.router.setHealth(replica, 'lagging', 'lag-ms', lag)
    else if (maxBytes !== undefined && lag.bytes > maxBytes) this.router.setHealth(replica, 'lagging', 'lag-bytes', lag)
    else this.router.setHealth(replica, 'up', replica.state === 'down' ? 'recovered' : 'caught-up', lag)
    return replay
  }
}
