/**
 * Executing reads (src/read-plan.ts decides them): a read on the primary, or on a replica with failover. A read
 * that fails on a replica at the connection level takes that replica out of rotation and is retried once on
 * another of the plan's candidates, then on the primary (or throws, with `fallback: 'error'`); errors of the
 * query itself are never retried. A read past `readTimeoutMs` is given up only if its server does not answer a
 * probe. A read whose replica was chosen by what was known of it is confirmed afterwards.
 */
import { AbandonedReadError, connectionErrorCause, isRecoveryConflict, LostReadError } from './connection-error.js'
import { NoReplicaAvailableError, ReplicaModelError } from './errors/index.js'
import type { ResolvedOptions } from './options.js'
import { ClientActions } from './prisma/client-actions.js'
import { executeRequest, isArgumentError, unpackFluent } from './prisma/internals.js'
import { withoutCallSite } from './prisma/without-call-site.js'
import { ReadPlanner, type Execute, type ReadPlan, type ReplicaPlan } from './read-plan.js'
import { ReplayChecks } from './replay-checks.js'
import { ReadDeadlines } from './read-deadlines.js'
import { ReadInFlight } from './replica-set.js'
import type { ReplicaState, Router } from './router.js'
import { type ScopeState, tick } from './scope.js'

/**
 * One model read, as the reader handles it, whichever path it came from (query extension or fast path): one
 * shape, so that the reader's code sees one kind of object.
 */
export interface ReadRequest {
  readonly operation: string
  readonly args: unknown
  /** Runs the read as asked, on the primary. */
  readonly query: (args: unknown) => PromiseLike<unknown>
  /** The fluent API's path (`findUnique(...).posts()` -> `['posts']`) to unpack from a replica's result. */
  readonly path: readonly string[] | undefined
  /** The arguments for a replica's client: `args`, or `args` rewritten for computed fields (src/prisma/computed-fields.ts). */
  readonly replicaArgs: unknown
  /**
   * The read as Prisma's request (from the query extension, or built by the fast path for a row read), which a
   * replica client without extensions runs directly (executeRequest: no second request pipeline); `undefined`:
   * the replica's model method runs it.
   */
  readonly request: object | undefined
}

/** Runs the query as it was asked, on the primary. */
export function onPrimary(params: ReadRequest): Promise<unknown> {
  return Promise.resolve(params.query(params.args))
}

/** Runs reads: each decided by a {@link ReadPlanner}, then executed here. */
export class ReplicaReader {
  /**
   * @param probes on the router's own connection: `alive`, whether a replica's server answers a probe
   *   (`undefined`: it has none; HealthMonitor.alive), and `running`, whether it runs a statement at least `ms`
   *   old (HealthMonitor.runsStatementOf).
   */
  constructor(
    private readonly router: Router,
    private readonly options: Pick<ResolvedOptions, 'fallback' | 'readTimeoutMs' | 'rules' | 'health'>,
    private readonly probes: {
      readonly alive: (replica: ReplicaState) => Promise<boolean> | undefined
      readonly running: (replica: ReplicaState, ms: number) => Promise<boolean | undefined>
    },
  ) {
    this.deadlines = options.readTimeoutMs === false ? undefined : new ReadDeadlines(options.readTimeoutMs)
    this.replay = new ReplayChecks(router.set, this.deadlines)
    this.planner = new ReadPlanner(router, options.rules, this.replay)
  }

  private readonly deadlines: ReadDeadlines | undefined
  /** Replay checks before a read, confirmation after one (consistency: src/replay-checks.ts). */
  private readonly replay: ReplayChecks
  private readonly planner: ReadPlanner
  private readonly actions = new Map<ReplicaState, ClientActions>()

  /** `replica`'s client with its model actions looked up once (see ClientActions); also for `$replica()`. */
  actionsOf(replica: ReplicaState): ClientActions {
    let actions = this.actions.get(replica)
    if (!actions) this.actions.set(replica, (actions = new ClientActions(replica.client)))
    return actions
  }

  /**
   * Decides where a read of `model` (`undefined`: not of a model, e.g. a read-only transaction) goes and hands
   * the plan to `execute`: for reads this reader does not execute itself.
   */
  decide(model: string | undefined, operation: string, execute: Execute): Promise<unknown> {
    return this.planner.read(model, operation, execute)
  }

  /** Whether a check started after `endedAt` saw `replica`'s same incarnation (see ReplayChecks.confirmed). */
  confirmed(replica: ReplicaState, incarnation: number, endedAt: number): Promise<boolean> {
    return this.replay.confirmed(replica, incarnation, endedAt)
  }

  /** Routes one read (`model` `undefined`: a raw read): decided (src/read-plan.ts), then executed here. */
  read(model: string | undefined, params: ReadRequest): Promise<unknown> {
    return this.planner.read(model, params.operation, (plan) => this.execute(model, params, plan))
  }

  /** Runs `plan` for a read of `model` (`woken`: decided again after waiting for waking replicas). */
  execute(model: string | undefined, params: ReadRequest, plan: ReadPlan, woken = false): Promise<unknown> {
    if (plan.target === 'primary') {
      if (plan.reason === 'fallback') return this.toPrimary(model, params, 'fallback', undefined, plan.watched, woken)
      this.router.report.route(model, params.operation, plan.reason, undefined, plan.sticky)
      return this.router.primaryRead(onPrimary(params), plan.watched)
    }
    const { replica, watched, confirm } = plan
    if (this.router.report.observed()) this.router.report.route(model, params.operation, plan.reason, replica.name)
    if (watched) this.router.readingOn(watched, replica)
    return this.attempt(replica, model, params, (error) => this.afterFailure(error, model, params, plan), watched, confirm)
  }

  /**
   * Whether a read's failure on `replica` is the replica's, so that another server may serve the read: a failure
   * of the connection (the replica leaves rotation), or a recovery conflict (it stays: counted and warned).
   */
  private replicaFailed(replica: ReplicaState, error: unknown): boolean {
    // A read lost with its connection, from a server that answers: the replica stays in rotation.
    if (error instanceof LostReadError) return true
    if (!isRecoveryConflict(error)) return this.router.set.failedBy(replica, error)
    this.router.report.recoveryConflict(replica, 'read')
    return true
  }

  /** After a failure of a read on the plan's replica: once on another of its candidates, then the primary. */
  private async afterFailure(error: unknown, model: string | undefined, params: ReadRequest, plan: ReplicaPlan): Promise<unknown> {
    const { replica, watched, confirm } = plan
    if (!this.replicaFailed(replica, error)) throw error
    this.router.report.retries += 1
    let failure = error
    const second = this.router.set.pick({ model, operation: params.operation }, replica, plan.candidates, plan.policy)
    if (second) {
      this.router.report.route(model, params.operation, 'retry', second.name)
      try {
        return await this.attempt(second, model, params, undefined, watched, confirm)
      } catch (secondError) {
        if (!this.replicaFailed(second, secondError)) throw secondError
        failure = secondError
      }
    }
    return await this.toPrimary(model, params, 'retry', failure, watched)
  }

  private async toPrimary(
    model: string | undefined,
    params: ReadRequest,
    reason: 'fallback' | 'retry',
    failure: unknown,
    watched: ScopeState | undefined,
    woken = false,
  ): Promise<unknown> {
    if (this.options.fallback === 'error' && reason === 'fallback' && !woken && this.router.set.waking) {
      // `fallback: 'error'` never reads on the primary: a replica being woken (suspended while idle) is waited
      // for, up to `health.wakeTimeoutMs`, and the read decided again.
      await this.router.set.woken(this.options.health.wakeTimeoutMs)
      return await this.planner.read(model, params.operation, (plan) => this.execute(model, params, plan, true))
    }
    if (reason === 'fallback') this.router.report.fallbacks += 1
    if (this.options.fallback === 'error') {
      throw new NoReplicaAvailableError(model, params.operation, this.router.set.states(), failure === undefined ? undefined : { cause: failure })
    }
    this.router.report.route(model, params.operation, reason)
    return await this.router.primaryRead(onPrimary(params), watched)
  }

  /** A read whose replica could not be confirmed (see ReplayChecks.confirmed), done again on the primary. */
  private redoOnPrimary(model: string | undefined, params: ReadRequest, watched: ScopeState | undefined): Promise<unknown> {
    this.router.report.unconfirmed += 1
    this.router.report.route(model, params.operation, 'sticky', undefined, 'lsn')
    return this.router.primaryRead(onPrimary(params), watched)
  }

  /**
   * Runs the read on `replica`'s client, counting it in flight until it settles or times out (a late result of a
   * timed-out read is dropped).
   */
  private attempt(
    replica: ReplicaState,
    model: string | undefined,
    params: ReadRequest,
    onFailure: ((error: unknown) => Promise<unknown>) | undefined,
    watched: ScopeState | undefined,
    confirm: boolean,
  ): Promise<unknown> {
    const actions = this.actionsOf(replica)
    // Looked up even for a request: a replica's client without the model (another schema) is named as such.
    const run = model === undefined ? actions.raw(params.operation) : actions.get(model, params.operation)
    if (!run) return Promise.reject(new ReplicaModelError(replica.name, model ?? '', params.operation))
    const request = actions.executesRequests ? params.request : undefined
    // A request run directly is unpacked by the replica's client (its fluent path is part of it).
    const path = request ? undefined : params.path
    const deadlines = this.deadlines
    const incarnation = replica.incarnation
    const read = new ReadInFlight(replica)
    const sentAt = performance.now()
    /** The last look at the server (past `readTimeoutMs`) found no statement as old as half the read's age. */
    let notRunning = false
    let query: PromiseLike<unknown>
    try {
      const args = params.replicaArgs
      if (request) query = executeRequest(actions.client, request, args)
      else query = actions.recordsCallSites ? withoutCallSite(() => run(args)) : run(args)
    } catch (error) {
      read.end(false)
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the query's own error, unchanged
      return Promise.reject(error)
    }
    return new Promise((resolve, reject) => {
      const fail = (error: unknown): void => {
        if (onFailure) resolve(onFailure(error))
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the query's own error, unchanged
        else reject(error)
      }
      // A read that runs past `readTimeoutMs` is given up only if its server does not answer a probe on the
      // router's own connection (or is known down): a busy server's read goes on, and is looked at again after
      // another `readTimeoutMs`; it is never run a second time elsewhere.
      const onTimeout = (timeout: Error): void => {
        // Ended, or left to its disconnected client ($disconnect()): nothing to look at.
        if (!read.open || !read.counted) return
        const check = replica.state === 'down' ? undefined : this.probes.alive(replica)
        if (!check) {
          if (read.end(false)) fail(timeout)
          return
        }
        void check.then(async (ok) => {
          if (!read.open) return
          if (!ok) {
            if (read.end(false)) fail(timeout)
            return
          }
          // The server answers. It runs the read — or nothing of that age: the read's connection is gone without
          // a word (half-open: the server's side closed, the client never told), and the read would wait for ever.
          // Half its age: the server started it at most that much later than it was sent (network delay). Only
          // when two rounds in a row find nothing that old is the read lost: a read that waited in a pool's queue,
          // or runs as several statements, shows at one of them at least once it runs.
          const running = await this.probes.running(replica, (performance.now() - sentAt) / 2)
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- it may have ended while the probe ran
          if (!read.open) return
          if (running === false && notRunning) {
            if (read.end(false)) {
              this.router.report.lostRead(replica)
              fail(new LostReadError(replica.name))
            }
            return
          }
          notRunning = running === false
          this.router.report.slowReads += 1
          ticket = deadlines?.track(onTimeout)
        })
      }
      let ticket = deadlines?.track(onTimeout)
      read.onAbandon = (cause) => {
        if (ticket) deadlines?.release(ticket)
        if (read.end(false)) fail(new AbandonedReadError(replica.name, cause))
      }
      query.then(
        (result) => {
          if (ticket) deadlines?.release(ticket)
          if (!read.end(true)) return
          if (!confirm) {
            if (watched) this.router.servedBy(watched, replica, tick())
            resolve(path ? unpackFluent(result, path) : result)
            return
          }
          const endedAt = tick()
          resolve(
            this.replay.confirmed(replica, incarnation, endedAt).then((ok) => {
              if (!ok) return this.redoOnPrimary(model, params, watched)
              if (watched) this.router.servedBy(watched, replica, endedAt)
              return path ? unpackFluent(result, path) : result
            }),
          )
        },
        (error: unknown) => {
          if (ticket) deadlines?.release(ticket)
          if (!read.end(false)) return
          if (params.replicaArgs !== params.args && isArgumentError(error)) {
            // The replica's client refused the arguments the router rewrote for computed fields (nothing was
            // sent): its message would show those. Prisma's own pipeline refuses the application's, as a plain
            // client does, before any network I/O.
            resolve(onPrimary(params))
            return
          }
          if (!confirm || connectionErrorCause(error) !== undefined) {
            fail(error)
            return
          }
          // An error of the query itself, from a server that may have gone back in time (a table that is not
          // there yet): it counts only if the server is confirmed, else the read is done on the primary.
          void this.replay.confirmed(replica, incarnation, tick()).then((ok) => {
            if (ok) fail(error)
            else resolve(this.redoOnPrimary(model, params, watched))
          })
        },
      )
    })
  }
}
