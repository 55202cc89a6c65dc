import { connectionErrorCause } from './connection-error.js'
import type { Dialect, ReplayObservation } from './dialects/dialect.js'
import { LagTracker } from './lag-tracker.js'
import { covers, join, type Position } from './position.js'
import type { ResolvedOptions } from './options.js'
import type { ReplicaState, Router } from './router.js'
import { tick } from './scope.js'
import type { Row, ServerLink } from './server-link.js'
import { TimeoutError } from './errors/index.js'
import { within } from './within.js'

/**
 * How long the router's own connections stay open without a query: `idleAfterMs` (10 s when it is `false`), and
 * never less than two check intervals, so that a connection the check uses is not closed between two rounds.
 */
export function connectionIdleMs(health: ResolvedOptions['health']): number {
  const { idleAfterMs, intervalMs } = health
  return Math.max(idleAfterMs === false ? 10_000 : idleAfterMs, 2 * intervalMs)
}

/** What one probe of a replica saw, and the tick it started at. */
interface Probed {
  readonly startedAt: number
  readonly observed: ReplayObservation[]
  /**
   * When this process saw the first answer (ms, monotonic; the one that decides health): after any freeze
   * between the question and then.
   */
  readonly answeredAt: number
  /** The probe identified who answers through the entry (see HealthMonitor.identify). */
  readonly identified: boolean
}

/**
 * Identification rounds, which tell one server from several behind one entry (see Router.observeReplay and
 * HealthMonitor.identify). Through the router's own connection: the first round, then every
 * {@link IDENTIFY_EVERY_OWN}th (a new connection costs the server far more than a probe: bench/health-cost.ts;
 * every resumption after idle opens a new connection anyway). Through an application's client: each of the first
 * {@link IDENTIFY_FIRST_SHARED} rounds, then every {@link IDENTIFY_EVERY_SHARED}th.
 */
const IDENTIFY_EVERY_OWN = 300
const IDENTIFY_FIRST_SHARED = 5
const IDENTIFY_EVERY_SHARED = 10
const IDENTIFY_PROBES = 3

/**
 * The background health check of one router: every `intervalMs`, one cheap query on each replica
 * (`pg_last_wal_replay_lsn()`) and, when the router needs the primary's position, one on the primary
 * (`pg_current_wal_insert_lsn()`), each with its own timeout, on the router's own connections. A replica that
 * fails leaves rotation; one that answers (and is within `maxLag`) comes back.
 * Lazy: starts with the first query; idles (and lets its connections close) after `idleAfterMs` without one;
 * `stop()` (on `$disconnect()`) ends it; the timer is `unref`'d.
 */
export class HealthMonitor {
  private readonly tracker = new LagTracker()
  private timer: NodeJS.Timeout | undefined
  private current: Promise<void> | undefined
  private running = false
  /** Replicas whose previous probe has not answered yet (a hung server): not probed again meanwhile. */
  private readonly pending = new Set<ReplicaState>()
  /** The loop paused because the application was idle (not stopped by `$disconnect()`). */
  private idled = false
  /** When the loop's next timer is due (ms, monotonic; Infinity while a round runs): see {@link ensureStarted}. */
  private dueAt = Infinity
  /** A timer overdue by more than this means the process was frozen (or its event loop blocked as long). */
  private get frozenAfterMs(): number {
    const { intervalMs, idleAfterMs } = this.options.health
    return Math.max(idleAfterMs === false ? 0 : idleAfterMs, 2 * intervalMs)
  }
  /** Whether the last round could measure lag (for a waking replica's late answer). */
  private lagMeasurable = false
  /**
   * When the last round that got the primary's position asked for it (ms, monotonic), else `undefined`. A replica
   * that answers at `answeredAt` may lack what the primary committed since: `answeredAt - primaryAskedAt` bounds
   * its lag from below, however caught up it is with that position (see {@link assess}).
   */
  private primaryAskedAt: number | undefined
  /** When the round in progress started (ms, monotonic; see {@link ensureStarted}). */
  private roundStartedAt = Infinity
  /**
   * With `maxLag`: when the primary's position was asked by the last round that assessed the replicas' lag
   * (ms, monotonic). A replica's `up` says its lag was within `maxLag` as of then; a read at `now` may be
   * `now - assessedAt` staler. Past two intervals (the documented bound: `maxLag` + 2 intervals) the verdicts are
   * too old to serve by — a process frozen or starved of CPU meanwhile — and the replicas are `waking` until a
   * round assesses them again (see {@link ensureStarted}).
   */
  private assessedAt: number | undefined
  /**
   * The last replay position each replica reported, kept while it is down: the lag samples it needs when it
   * comes back must not be forgotten because the other replicas moved on.
   */
  private readonly lastReplay = new Map<ReplicaState, Position>()
  /** Rounds of checks run so far. */
  private rounds = 0
  /** When the application last sent a routed query (ms, monotonic clock): the loop idles `idleAfterMs` after it. */
  private activeAt = 0
  /** When a round last looked whether to idle (see {@link idleNow}). */
  private lookedAt = 0
  /** The next primary sample follows a pause (see {@link resumed}). */
  private gap = false

  /** Whether `maxLag` sets any limit (then a replica whose lag cannot be measured stays out of rotation). */
  private readonly lagLimited: boolean

  constructor(
    private readonly router: Router,
    private readonly primary: ServerLink,
    private readonly options: Pick<ResolvedOptions, 'health' | 'maxLag'>,
  ) {
    this.lagLimited = options.maxLag.ms !== undefined || options.maxLag.bytes !== undefined
    this.dialect = router.dialect
  }

  private readonly dialect: Dialect

  /**
   * Notes a routed query and starts the loop unless it runs. Cheap enough for every query. The caller then hands
   * the query it sends to {@link sent}: the very first start waits for it (or `intervalMs`) before its first
   * round; every later start checks at once.
   */
  ensureStarted(): void {
    const now = performance.now()
    this.activeAt = now
    if (this.running) {
      // What the router knew is as old as a freeze (a serverless function between invocations, SIGSTOP), as after
      // a pause: the loop's timer could not fire; or a round outlasts any round (a primary question and a replica
      // probe, `timeoutMs` each) by more than a pause; or, with `maxLag`, the last lag verdicts are older than the
      // bound allows (see assessedAt: also a process starved of CPU).
      const timerOverdue = now - this.dueAt > this.frozenAfterMs
      const roundOverdue = now - this.roundStartedAt - 2 * this.options.health.timeoutMs > this.frozenAfterMs
      const verdictsOld = this.assessedAt !== undefined && now - this.assessedAt > 2 * this.options.health.intervalMs
      if (timerOverdue || roundOverdue || verdictsOld) {
        if (timerOverdue) this.dueAt = Infinity
        if (roundOverdue) this.roundStartedAt = Infinity
        this.resumed(true)
      }
      return
    }
    this.running = true
    if (this.rounds > 0) this.resumed(this.idled)
    if (this.rounds > 0 || this.started) {
      this.schedule(0)
      return
    }
    this.started = true
    this.awaitingFirst = true
    this.schedule(this.options.health.intervalMs)
  }

  /** The loop has been started once. */
  private started = false
  /** The query that started the loop has not been handed to {@link sent} yet. */
  private awaitingFirst = false

  /**
   * A routed query was sent (after {@link ensureStarted}); returns it. The first round starts when the query that
   * started the loop settles, or after `intervalMs`, not alongside it: a cold process's first query is mostly
   * Prisma's own start (loading and compiling, on the one thread), which the round's connections would slow by as
   * much again (measured: bench/cold-start.ts). Nothing waits for that round meanwhile: reads go to replicas as
   * before any check, and a read that must see a write goes to the primary until a round has identified who
   * answers through each entry.
   */
  sent<T extends PromiseLike<unknown>>(query: T): T {
    if (!this.awaitingFirst) return query
    this.awaitingFirst = false
    const start = () => {
      if (this.running && this.rounds === 0 && this.dueAt !== Infinity) {
        clearTimeout(this.timer)
        this.schedule(0)
      }
    }
    // Only a promise of the router's own is waited on: another thenable (a query of a batch transaction, which
    // Prisma runs when it asks) is not asked for its result early; the round starts now.
    if (query instanceof Promise) void query.then(start, start)
    else start()
    return query
  }

  /**
   * Back from a pause: what the router knew of a replica is as old as the pause, and a server that suspends when
   * idle (Neon) may be asleep. Replicas in rotation are `waking` until they answer the check that starts now
   * (reads meanwhile go to the others or to the primary, never wait for one being woken); that check's primary
   * sample counts from before the pause (LagTracker.record): a replica that stopped replaying while the
   * application was idle is not served as if it had just fallen behind.
   */
  private resumed(afterIdle: boolean): void {
    this.gap = true
    this.assessedAt = undefined
    this.idled = false
    // After `$disconnect()` (queries reconnect, as Prisma's clients do) the replicas stay as they were.
    if (!afterIdle) return
    for (const replica of this.router.replicas) {
      if (replica.state === 'up') this.router.set.setHealth(replica, 'waking', 'idle')
    }
  }

  /** The loop was stopped or went idle (read afresh after every `await`). */
  private stopped(): boolean {
    return !this.running
  }

  /**
   * No routed query for `idleAfterMs`: the loop stops and the router's connections close, so that the servers
   * see no query from this router until the application's next one. True when it went idle.
   */
  private idleNow(): boolean {
    const now = performance.now()
    // A round looks at least once after the last query (with `idleAfterMs: 0`, the loop pauses at the first
    // round that sees no query since the previous one).
    const queried = this.activeAt >= this.lookedAt
    this.lookedAt = now
    const { idleAfterMs } = this.options.health
    if (queried || idleAfterMs === false || now - this.activeAt < idleAfterMs) return false
    this.running = false
    this.idled = true
    for (const link of [this.primary, ...this.router.replicas.map((r) => r.link)]) link.release()
    return true
  }

  /**
   * Whether `replica`'s server answers a probe on the router's own connection within `health.timeoutMs`: how a
   * read that runs long tells a busy server (it answers; the read goes on) from a dead or frozen one (it does
   * not, and leaves rotation). `undefined` where the router has no connection of its own to it (a probe through
   * the application's pool would wait behind the same queries), or where that connection may reach another
   * server than the read's (a pooled entry).
   */
  alive(replica: ReplicaState): Promise<boolean> | undefined {
    // A pooled entry: the router's connection may reach another server than the read's.
    if (!replica.link.own || replica.pooled) return undefined
    const startedAt = tick()
    return within(this.dialect.replicaPosition(replica.link, true), this.options.health.timeoutMs, `a replay check of replica \`${replica.name}\``).then(
      (observation) => {
        this.router.set.observeReplay(replica, observation, startedAt)
        replica.checks.observe(startedAt, observation)
        return true
      },
      // A server that answered, with an error, is alive.
      (error: unknown) => this.probeFailed(replica, error) === undefined,
    )
  }

  /**
   * Whether `replica`'s server runs a statement of this user's that started at least `ms` ago (a read sent that
   * long ago may be it), asked on the router's own connection within `health.timeoutMs`: `false` means no read
   * of that age can be running there; `undefined` where it cannot be asked (no connection of the router's own, a
   * pooled entry, an engine that does not show it, or no answer).
   */
  async runsStatementOf(replica: ReplicaState, ms: number): Promise<boolean | undefined> {
    const sql = this.dialect.runningSql?.(ms)
    const asked = sql === undefined ? undefined : this.ownQuery(replica, sql)
    if (!asked) return undefined
    const rows = await asked.catch(() => undefined)
    const n = rows?.[0]?.n
    return typeof n === 'number' || typeof n === 'bigint' ? n > 0 : undefined
  }

  /**
   * Runs `sql` on `replica`'s server through the router's own connection, within `health.timeoutMs`;
   * `undefined` where the router has none of its own to that server (see {@link alive}).
   */
  ownQuery(replica: ReplicaState, sql: string): Promise<readonly Row[]> | undefined {
    if (!replica.link.own || replica.pooled) return undefined
    return within(replica.link.query(sql, true), this.options.health.timeoutMs, `a query of replica \`${replica.name}\``)
  }

  /**
   * Stops the loop, closes the router's connections (a check in progress fails at once) and waits for the check,
   * so that no query of the router runs after `$disconnect()`.
   */
  async stop(): Promise<void> {
    this.running = false
    this.idled = false
    clearTimeout(this.timer)
    this.timer = undefined
    await Promise.all([this.primary.close(), ...this.router.replicas.map((r) => r.link.close())])
    await this.current
  }

  /** Fixed rate: checks start every `intervalMs` (not `intervalMs` after the previous one ended), never overlapping. */
  private schedule(delay: number): void {
    this.dueAt = performance.now() + delay
    this.timer = setTimeout(() => {
      const frozen = performance.now() - this.dueAt > this.frozenAfterMs
      this.dueAt = Infinity
      if (this.idleNow()) return
      // The timer fired late by more than a pause: the process was frozen (see ensureStarted).
      if (frozen) this.resumed(true)
      const started = performance.now()
      this.roundStartedAt = started
      this.current = this.check().finally(() => {
        this.current = undefined
        this.roundStartedAt = Infinity
        const elapsed = performance.now() - started
        if (this.running) this.schedule(Math.max(0, this.options.health.intervalMs - elapsed))
      })
    }, delay)
    this.timer.unref()
  }

  /** One round of checks. Never throws. */
  async check(): Promise<void> {
    this.rounds += 1
    this.router.report.healthChecks += 1
    const { timeoutMs } = this.options.health
    const startedAt = tick()
    // The primary is asked only while its position is needed: to enforce `maxLag`, or while read-your-writes
    // asked it lately; else the replicas' received positions stand in for it (see below).
    const askPrimary = this.lagLimited || !this.primary.own || this.router.primaryPosition.askedWithin(this.idleAfter())
    const askedAt = performance.now()
    const primaryLsn = askPrimary
      ? await within(this.dialect.primaryPosition(this.primary, false), timeoutMs, 'the primary’s WAL position').catch((error: unknown) => {
          if (error instanceof TimeoutError) this.primary.reset() // a connection stuck on a hung server
          return undefined // the primary's own trouble is not the replicas' health: lag is just not measurable now
        })
      : undefined
    if (this.stopped()) return // stopped meanwhile (`$disconnect()`): no more queries, no connection opened
    this.primaryAskedAt = primaryLsn === undefined ? undefined : askedAt
    const at = performance.now()
    if (primaryLsn !== undefined) {
      this.tracker.record(primaryLsn, at, this.gap)
      this.router.primaryPosition.observe(startedAt, primaryLsn)
    }
    const results = await Promise.all(this.router.replicas.map((replica) => this.probe(replica)))
    if (this.stopped()) return
    if (primaryLsn === undefined && !this.lagLimited) {
      // The WAL the replicas have received is a lower bound of the primary's position: lag against it is the
      // time a replica takes to apply what it received (informational: no lag limit is configured).
      let received: Position | undefined
      for (const result of results) {
        for (const o of result?.observed ?? []) if (o.received !== undefined) received = received === undefined ? o.received : join(received, o.received)
      }
      if (received !== undefined) this.tracker.record(received, at, this.gap)
    }
    if (primaryLsn !== undefined || !this.lagLimited) this.gap = false
    const lagMeasurable = primaryLsn !== undefined || (!this.lagLimited && this.tracker.latest !== undefined)
    this.lagMeasurable = lagMeasurable
    this.router.replicas.forEach((replica, i) => {
      const replay = this.assess(replica, results[i], lagMeasurable)
      if (replay !== undefined) this.lastReplay.set(replica, replay)
    })
    if (this.lagLimited) this.assessedAt = primaryLsn === undefined ? undefined : askedAt
    this.router.set.checked = true
    // Samples below every replica's last position are needed by none; until each replica answered once, all are.
    if (this.lastReplay.size === this.router.replicas.length) {
      this.tracker.prune([...this.lastReplay.values()])
    }
  }

  /** The primary's server (`ReplayObservation.server` form), as last asked; see {@link isPrimaryServer}. */
  private primaryServer: string | undefined
  private askingPrimaryServer = false

  /**
   * Whether `server` is the primary itself. Asked of the primary (once, then again whenever a server that is no
   * replica does not match: the primary's address may lead elsewhere after a failover); until it has answered,
   * `false` — such a server stays out of rotation a round longer, never in it wrongly.
   */
  private isPrimaryServer(server: string | undefined): boolean {
    if (server !== undefined && server === this.primaryServer) return true
    const sql = this.dialect.serverIdentitySql
    if (sql !== undefined && !this.askingPrimaryServer) {
      this.askingPrimaryServer = true
      void within(this.primary.query(sql, false), this.options.health.timeoutMs, 'the primary’s identity')
        .then(
          (rows) => {
            const answered = rows[0]?.server
            if (typeof answered === 'string') this.primaryServer = answered
          },
          () => undefined,
        )
        .finally(() => {
          this.askingPrimaryServer = false
        })
    }
    return false
  }

  /** A replica alive whose lag cannot be measured: usable only when no lag limit must be enforced. */
  private unmeasurable(replica: ReplicaState): void {
    this.router.set.setHealth(replica, this.lagLimited ? 'down' : 'up', 'lag-unmeasurable')
    // Already in that state (a replica up from the start): `$replicaStatus()` still says why it has no lag.
    replica.cause = 'lag-unmeasurable'
  }

  private idleAfter(): number {
    return connectionIdleMs(this.options.health)
  }

  /**
   * Probes one replica: what its server(s) answered, or `undefined` after a failure (handled here). Probes of a
   * replica never overlap: one still unanswered (a hung server) counts as a timeout.
   */
  private async probe(replica: ReplicaState): Promise<Probed | undefined> {
    const { timeoutMs } = this.options.health
    const link = replica.link
    const startedAt = tick()
    if (this.stopped()) return undefined
    if (replica.state === 'waking') return await this.wake(replica, startedAt)
    try {
      if (this.pending.has(replica)) throw new TimeoutError(`the previous health check of replica \`${replica.name}\``, timeoutMs)
      // Now and then, identify who answers through this entry (see IDENTIFY_EVERY_OWN).
      const identify =
        !replica.identified || (link.own ? this.rounds % IDENTIFY_EVERY_OWN === 0 : this.rounds <= IDENTIFY_FIRST_SHARED || this.rounds % IDENTIFY_EVERY_SHARED === 0)
      this.pending.add(replica)
      const probe = this.observe(replica, identify, timeoutMs)
      void probe.then(
        () => this.pending.delete(replica),
        () => this.pending.delete(replica),
      )
      const { observed, answeredAt } = await probe
      return { startedAt, observed, answeredAt, identified: identify }
    } catch (error) {
      if (this.stopped()) return undefined // stopped (`$disconnect()`) under it: says nothing of the server
      // The server answered, with an error of the query: alive, but it cannot report its replay position
      // (e.g. not PostgreSQL streaming replication).
      if (this.probeFailed(replica, error) === undefined) this.unmeasurable(replica)
      return undefined
    }
  }

  /**
   * The check of a `waking` replica: the server may be starting (a suspended compute woken by this very
   * connection), so it may take `health.wakeTimeoutMs` to answer. The round waits for it no longer than for any
   * replica (`health.timeoutMs`); a later answer is applied when it comes (the replica back in rotation at once),
   * and rounds meanwhile leave it be. Never answering within `wakeTimeoutMs`: `down`, as any check that times out.
   */
  private async wake(replica: ReplicaState, startedAt: number): Promise<Probed | undefined> {
    if (this.pending.has(replica)) return undefined // still being woken
    const { timeoutMs, wakeTimeoutMs } = this.options.health
    const identify = !replica.identified
    this.pending.add(replica)
    const waking = this.observe(replica, identify, wakeTimeoutMs)
      .then(
        ({ observed, answeredAt }): Probed => ({ startedAt, observed, answeredAt, identified: identify }),
        (error: unknown) => {
          if (!this.stopped() && this.probeFailed(replica, error) === undefined) this.unmeasurable(replica)
          return undefined
        },
      )
      .finally(() => this.pending.delete(replica))
    const inRound = await Promise.race([waking, unrefDelay(timeoutMs).then((): typeof LATE => LATE)])
    if (inRound !== LATE) return inRound
    void waking.then((probed) => {
      if (probed === undefined || this.stopped()) return
      const replay = this.assess(replica, probed, this.lagMeasurable)
      if (replay !== undefined) this.lastReplay.set(replica, replay)
    })
    return undefined
  }

  /**
   * What answers through `replica`: one probe within `timeoutMs`, or its identification ({@link identify}),
   * whose first probe has `timeoutMs`.
   */
  private observe(replica: ReplicaState, identify: boolean, timeoutMs: number): Promise<{ observed: ReplayObservation[]; answeredAt: number }> {
    if (identify) return this.identify(replica.link, !replica.identified, timeoutMs)
    return within(this.dialect.replicaPosition(replica.link, false), timeoutMs, `a health check of replica \`${replica.name}\``).then((o) => ({
      observed: [o],
      answeredAt: performance.now(),
    }))
  }

  /**
   * A probe of `replica` that failed with `error`: a connection stuck on a hung server (a timeout) is of no more
   * use and is reset; a connection-level failure takes the replica out of rotation. Returns that failure's cause,
   * or `undefined` when the server answered, with an error of the query.
   */
  private probeFailed(replica: ReplicaState, error: unknown): string | undefined {
    if (error instanceof TimeoutError) replica.link.reset()
    const cause = connectionErrorCause(error)
    if (cause !== undefined && replica.state !== 'down') this.router.set.fail(replica, cause)
    return cause
  }

  /**
   * A probe, then more that may reach other servers behind one entry. Through the router's own connection: one
   * more on the same connection, then each extra probe on a new connection (until the entry is identified once,
   * {@link IDENTIFY_PROBES} - 1 of them: read-your-writes does not rely on an entry before; one connection at
   * a time). Where that shows a pooler (a transaction pooler answers one connection from
   * several server sessions; a session pooler hands a new connection the session before) and only one server
   * answered, {@link IDENTIFY_PROBES} sessions at once, each holding its transaction ~20 ms, so that the pooler
   * must serve them from as many of its server connections (one at a time, it may always hand back the same
   * one). Best effort: only the first probe decides the replica's health. Through an application's client:
   * {@link IDENTIFY_PROBES} at once, which its pool spreads over its connections.
   */
  private async identify(link: ServerLink, firstTime: boolean, firstTimeoutMs: number): Promise<{ observed: ReplayObservation[]; answeredAt: number }> {
    const { timeoutMs } = this.options.health
    if (!link.own) {
      const all = await within(Promise.all(Array.from({ length: IDENTIFY_PROBES }, () => this.dialect.replicaPosition(link, false))), firstTimeoutMs)
      return { observed: all, answeredAt: performance.now() }
    }
    const probe = (ms = timeoutMs) => within(this.dialect.replicaPosition(link, false), ms)
    const first = await probe(firstTimeoutMs)
    const answeredAt = performance.now()
    const observed = [first]
    // Stopped meanwhile (`$disconnect()`): no more queries, no connection opened (each await below).
    if (this.stopped()) return { observed, answeredAt }
    const again = await probe().catch(() => undefined)
    let pooler = again?.session !== undefined && first.session !== undefined && again.session !== first.session
    let last = again ?? first
    if (again) observed.push(again)
    for (let i = 1; i < (firstTime ? IDENTIFY_PROBES : 2); i++) {
      if (this.stopped()) return { observed, answeredAt }
      link.reconnect()
      const another = await probe().catch(() => undefined)
      if (another === undefined) break
      if (another.session !== undefined && another.session === last.session) pooler = true
      observed.push(another)
      last = another
    }
    const hold = this.dialect.heldReplicaPosition?.bind(this.dialect)
    const apart = link.queryApart?.bind(link)
    if (pooler && hold && apart && !this.stopped() && new Set(observed.map((o) => o.server)).size < 2) {
      const held = await within(
        Promise.all([hold((sql) => link.query(sql, false)), ...Array.from({ length: IDENTIFY_PROBES - 1 }, () => hold((sql) => apart(sql, timeoutMs)))]),
        timeoutMs,
      ).catch(() => undefined)
      if (held) observed.push(...held)
    }
    return { observed, answeredAt }
  }

  /** Health and lag of one replica from what its probe saw; returns the replay position to remember. */
  private assess(replica: ReplicaState, probed: Probed | undefined, lagMeasurable: boolean): Position | undefined {
    if (probed === undefined) return undefined
    const { startedAt, observed } = probed
    let replay: Position | undefined
    for (const observation of observed) {
      this.router.set.observeReplay(replica, observation, startedAt)
      replica.checks.observe(startedAt, observation)
      const { lsn } = observation
      if (lsn !== undefined && (replay === undefined || !covers(lsn, replay))) replay = lsn // the lag is the furthest behind
    }
    // Who answers through the entry is known now: read-your-writes may rely on it (unless found pooled).
    if (probed.identified) replica.identified = true
    if (replay === undefined) {
      // A server that says it is no replica at all (PostgreSQL: out of recovery): promoted — it left replication
      // without saying so, the primary's writes no longer reach it — unless it is the primary itself (an entry
      // that points at the primary, as in development, or the promoted server the primary's address now leads to).
      const left = observed.find((o) => o.replicating === false)
      if (left && !this.isPrimaryServer(left.server)) {
        this.router.set.setHealth(replica, 'down', NOT_A_REPLICA)
        replica.cause = NOT_A_REPLICA
        warnNotAReplica(replica.name)
        return undefined
      }
      // Not in recovery (a logical subscriber, the primary itself) or no position: read-your-writes never relies
      // on it.
      this.unmeasurable(replica)
      return undefined
    }
    if (!lagMeasurable) {
      // Without the primary's position the lag is unknown: re-admit only when no lag limit is configured.
      if (replica.state === 'down' && !this.lagLimited) this.router.set.setHealth(replica, 'up', 'recovered')
      else if (replica.state === 'waking' && !this.lagLimited) this.router.set.setHealth(replica, 'up', 'awake')
      return replay
    }
    const reported = observed.find((o) => o.serverSeconds !== undefined)?.serverSeconds
    // The tracker's lag counts from the primary's positions seen so far; what the primary committed after the
    // round asked for its position is unseen, and the replica may lack it: as long as the time from that question
    // to the replica's answer. A few ms, except when the process was frozen (SIGSTOP, a serverless function
    // between invocations) or its event loop blocked in between: then the replica is not taken as caught up.
    const unseen = this.primaryAskedAt === undefined ? 0 : probed.answeredAt - this.primaryAskedAt
    const lag = {
      ms: Math.round(Math.max(this.tracker.lagMs(replay, performance.now()), unseen)),
      bytes: this.tracker.lagBytes(replay),
      ...(reported !== undefined && { serverSeconds: reported }),
    }
    const { ms: maxMs, bytes: maxBytes } = this.options.maxLag
    if (maxMs !== undefined && lag.ms > maxMs) this.router.set.setHealth(replica, 'lagging', 'lag-ms', lag)
    else if (maxBytes !== undefined && lag.bytes > maxBytes) this.router.set.setHealth(replica, 'lagging', 'lag-bytes', lag)
    else this.router.set.setHealth(replica, 'up', replica.state === 'down' ? 'recovered' : replica.state === 'waking' ? 'awake' : 'caught-up', lag)
    return replay
  }
}

const LATE = Symbol('late')

/** The cause of a replica entry whose server is no replica (promoted) and not the primary. */
export const NOT_A_REPLICA = 'not-a-replica'

/** The warning code emitted the first time each replica entry is found to be no replica (promoted). */
export const NOT_A_REPLICA_WARNING = 'PRISMA_REPLICA_ROUTER_NOT_A_REPLICA'

const warnedNotAReplica = new Set<string>()

/** One process warning per replica name: a replica that left replication (promoted) is out of rotation. */
function warnNotAReplica(name: string): void {
  if (warnedNotAReplica.has(name)) return
  warnedNotAReplica.add(name)
  process.emitWarning(
    `prisma-replica-router: replica \`${name}\` is no replica any more (it is out of recovery: promoted) and is not the primary, so the primary's writes no longer reach it; it is out of rotation until it replicates again. ` +
      'After a failover, point the replica entries at the servers that replicate the new primary.',
    { code: NOT_A_REPLICA_WARNING },
  )
}

/** Resolves after `ms`, never keeping the process alive. */
function unrefDelay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
