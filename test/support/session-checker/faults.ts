import type { FaultProxy } from '../../../src/testing/fault-proxy.ts'
import type { LocalCluster } from '../../../src/testing/local-cluster.ts'
import type { MariadbCluster } from '../../../src/testing/mariadb-cluster.ts'
import type { FaultKind, History } from './history.ts'
import type { Rng } from './workload.ts'

export interface FaultScheduleOptions {
  /** The replica given a base `recovery_min_apply_delay` (re-drawn by `lag` faults). */
  readonly laggingReplica: string
  /** Base apply delay range of the lagging replica (ms). */
  readonly lagMs: readonly [number, number]
  /** Pause between two faults (ms). */
  readonly gapMs: readonly [number, number]
  /** Relative weights of the fault kinds (0 disables one). */
  readonly weights: Readonly<Record<FaultKind, number>>
}

/** A cluster faults are injected into: PostgreSQL's or MariaDB's test kit (the same controls). */
export type FaultableCluster = LocalCluster | MariadbCluster

export const DEFAULT_FAULTS: FaultScheduleOptions = {
  laggingReplica: 'replica-1',
  lagMs: [50, 300],
  gapMs: [200, 1200],
  weights: { lag: 3, lagAll: 2, pause: 3, syncCommitOff: 2, freeze: 1, stop: 1, crash: 1, recoveryConflicts: 1, partition: 1, halfOpen: 1, reset: 1, slowNetwork: 1 },
}

/**
 * MariaDB: the base lag is `MASTER_DELAY` (whole seconds), and there is no `synchronous_commit` to turn off (a
 * commit returns once it is in the binary log, which is where the router reads positions from), nor hot-standby
 * recovery conflicts (a replica's SQL thread waits for locks; it cancels no query).
 */
export const MARIADB_FAULTS: FaultScheduleOptions = {
  laggingReplica: 'replica-1',
  lagMs: [1000, 1000],
  gapMs: [200, 1200],
  // Network faults: off on MariaDB. Connections reset under @prisma/adapter-mariadb's pool give unhandled
  // rejections (`read ECONNRESET`, SqlError 45009 "socket has unexpectedly been closed") with or without the
  // router: a plain client through the same proxy, 200 resets in 5 s, gave 6 (2026-12-08). Until that is settled
  // with the driver (issue 29), the suite's short run leaves them out.
  weights: { lag: 1, lagAll: 1, pause: 3, syncCommitOff: 0, freeze: 1, stop: 1, crash: 1, recoveryConflicts: 0, partition: 0, halfOpen: 0, reset: 0, slowNetwork: 0 },
}

/**
 * A seeded fault schedule over a {@link LocalCluster}: replica apply delay, paused replay, outages (immediate
 * stop then start), crash reinitialisations (a backend SIGKILLed), SIGSTOP freezes, and `synchronous_commit =
 * off` on the primary (ALTER SYSTEM + reload), and recovery conflicts (PostgreSQL: every replica with
 * `hot_standby_feedback = off` and `max_standby_streaming_delay = 0` while the primary vacuums the workload's
 * table every few ms, so that replay cancels replica queries whose snapshot sees the rows it removes).
 * Through the proxy in front of each replica (when given): network partitions (a blackhole), half-open
 * connections, connections reset, and latency with jitter.
 * One fault at a time besides the base lag; timers only space faults. {@link heal} undoes everything.
 */
export class FaultSchedule {
  private stopped = false
  private wake: (() => void) | undefined
  private loop: Promise<void> | undefined
  readonly injected = new Map<FaultKind, number>()
  /** Errors of fault injection itself (e.g. a start that failed), reported, never thrown. */
  readonly errors: string[] = []

  constructor(
    private readonly cluster: FaultableCluster,
    private readonly replicas: readonly string[],
    private readonly rng: Rng,
    private readonly history: History,
    private readonly options: FaultScheduleOptions = DEFAULT_FAULTS,
    /** The fault-injecting proxy in front of each replica, by name (network faults; none: those are skipped). */
    private readonly proxies: ReadonlyMap<string, FaultProxy> = new Map(),
  ) {}

  start(): void {
    this.loop = this.run()
  }

  /** Ends the schedule (the fault in progress is cut short) and heals every server. */
  async stop(): Promise<void> {
    this.stopped = true
    this.wake?.()
    await this.loop
    await this.heal()
  }

  private isStopped(): boolean {
    return this.stopped
  }

  private count(kind: FaultKind): void {
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1)
  }

  /** Waits `ms`, or less when the schedule stops. A spacing timer, never a synchronisation. */
  private wait(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      timer.unref()
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
  }

  /** The lagging replica's base apply delay (ms), as last set. */
  private baseLag = 0

  private async setLag(): Promise<void> {
    const [lo, hi] = this.options.lagMs
    const ms = this.rng.int(lo, hi)
    this.baseLag = ms
    const record = this.history.fault('lag', this.options.laggingReplica, `recovery_min_apply_delay ${String(ms)} ms`)
    await this.cluster.setReplicaLag(this.options.laggingReplica, ms)
    this.count('lag')
    record.end() // the base lag stays until the next lag fault or heal; the record marks when it was set
  }

  private async run(): Promise<void> {
    await this.setLag()
    const kinds = Object.entries(this.options.weights).filter(([, w]) => w > 0) as [FaultKind, number][]
    const total = kinds.reduce((sum, [, w]) => sum + w, 0)
    while (!this.stopped) {
      await this.wait(this.rng.int(...this.options.gapMs))
      if (this.isStopped()) break
      let roll = this.rng.next() * total
      const kind = (kinds.find(([, w]) => (roll -= w) < 0) ?? kinds[0] ?? ['lag', 1])[0]
      try {
        await this.inject(kind)
      } catch (error) {
        this.errors.push(`${kind}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  }

  private async inject(kind: FaultKind): Promise<void> {
    const cluster = this.cluster
    const replica = this.rng.pick(this.replicas)
    switch (kind) {
      case 'lag':
        await this.setLag()
        return
      case 'lagAll': {
        // Every replica behind at once: a read right after a write finds no replica that has it (unless the router
        // knows of the write, it serves it stale).
        const [lo, hi] = this.options.lagMs
        const lag = this.rng.int(lo, hi)
        const ms = this.rng.int(300, 1500)
        await this.hold(
          'lagAll',
          'every replica',
          `recovery_min_apply_delay ${String(lag)} ms on every replica, ${String(ms)} ms`,
          ms,
          () => Promise.all(this.replicas.map((r) => cluster.setReplicaLag(r, lag))),
          () => Promise.all(this.replicas.map((r) => cluster.setReplicaLag(r, r === this.options.laggingReplica ? this.baseLag : 0))),
        )
        return
      }
      case 'pause': {
        // Mostly the replica without base lag: the two then differ most.
        const target = this.rng.chance(0.75) ? (this.replicas.find((r) => r !== this.options.laggingReplica) ?? replica) : replica
        const ms = this.rng.int(200, 1500)
        await this.hold(
          'pause',
          target,
          `replay paused ${String(ms)} ms`,
          ms,
          () => cluster.pauseReplay(target),
          () => cluster.resumeReplay(target),
        )
        return
      }
      case 'freeze': {
        const ms = this.rng.int(200, 1200)
        await this.hold(
          'freeze',
          replica,
          `SIGSTOP ${String(ms)} ms`,
          ms,
          () => cluster.freezeReplica(replica),
          () => cluster.thawReplica(replica),
        )
        return
      }
      case 'stop': {
        const ms = this.rng.int(200, 1500)
        await this.hold(
          'stop',
          replica,
          `immediate stop, ${String(ms)} ms down`,
          ms,
          () => cluster.stopReplica(replica),
          () => cluster.startReplica(replica),
        )
        return
      }
      case 'crash': {
        // One backend killed: the server reinitialises with the same start time and may open behind.
        await this.hold(
          'crash',
          replica,
          'a backend SIGKILLed: crash reinitialisation',
          0,
          () => cluster.crashReplica(replica),
          () => Promise.resolve(),
        )
        return
      }
      case 'recoveryConflicts': {
        if (!('pgBin' in cluster.info)) return // MariaDB: no recovery conflicts (see MARIADB_FAULTS)
        const pg = cluster as LocalCluster
        const ms = this.rng.int(500, 2500)
        const vacuuming = { on: true }
        let vacuum: Promise<void> | undefined
        await this.hold(
          'recoveryConflicts',
          'every replica',
          `hot_standby_feedback = off, max_standby_streaming_delay = 0, the primary vacuuming "Cell" under bursts of replay, ${String(ms)} ms`,
          ms,
          async () => {
            await Promise.all(this.replicas.map((r) => pg.setRecoveryConflicts(r, { hotStandbyFeedback: false, maxStandbyStreamingDelayMs: 0 })))
            vacuum = (async () => {
              // Row versions the workload's updates left, removed as soon as no primary snapshot needs them; and
              // replay held a moment on one replica, then let go: it applies the updates and their removal in one
              // burst, under the reads that started meanwhile (their snapshots older than the removal), as a
              // replica whose replay stalls does. A short read is cancelled only when it spans a removal's replay.
              while (vacuuming.on) {
                const target = this.rng.pick(this.replicas)
                await pg.pauseReplay(target).catch(() => undefined)
                await pg.query('primary', 'VACUUM "Cell"').catch(() => undefined)
                await new Promise((resolve) => setTimeout(resolve, this.rng.int(20, 80)))
                await pg.resumeReplay(target).catch(() => undefined)
                await new Promise((resolve) => setTimeout(resolve, 10))
              }
            })()
          },
          async () => {
            vacuuming.on = false
            await vacuum
            await Promise.all(this.replicas.map((r) => pg.setRecoveryConflicts(r, RECOVERY_CONFLICTS_HEALED)))
          },
        )
        return
      }
      case 'partition':
      case 'halfOpen':
      case 'reset':
      case 'slowNetwork': {
        const proxy = this.proxies.get(replica)
        if (!proxy) return
        if (kind === 'halfOpen' || kind === 'reset') {
          // At once, on the connections open now (the pools' and the router's): the next use finds them dead.
          const what = kind === 'halfOpen' ? "every open connection half-open (the server's side closed without a word)" : 'every open connection reset (RST)'
          await this.hold(
            kind,
            replica,
            what,
            0,
            async () => {
              if (kind === 'halfOpen') proxy.halfOpen()
              else proxy.reset()
              await Promise.resolve()
            },
            () => Promise.resolve(),
          )
          return
        }
        const ms = this.rng.int(300, 2000)
        const latency = this.rng.int(5, 60)
        await this.hold(
          kind,
          replica,
          kind === 'partition' ? `network partition (blackhole), ${String(ms)} ms` : `latency ${String(latency)} ms + jitter ${String(latency)} ms each way, ${String(ms)} ms`,
          ms,
          async () => {
            if (kind === 'partition') proxy.partition()
            else proxy.setConditions({ latencyMs: latency, jitterMs: latency })
            await Promise.resolve()
          },
          async () => {
            proxy.heal()
            await Promise.resolve()
          },
        )
        return
      }
      case 'syncCommitOff': {
        const ms = this.rng.int(500, 2500)
        const detail = `ALTER SYSTEM SET synchronous_commit = off, ${String(ms)} ms`
        await this.hold(
          'syncCommitOff',
          'primary',
          detail,
          ms,
          () => setPrimarySyncCommit(cluster, false),
          () => setPrimarySyncCommit(cluster, true),
        )
        return
      }
    }
  }

  /** Injects a fault, records it, holds it for `ms` (a spacing timer), then heals it, even when stopped. */
  private async hold(kind: FaultKind, target: string, detail: string, ms: number, inject: () => Promise<unknown>, heal: () => Promise<unknown>): Promise<void> {
    const record = this.history.fault(kind, target, detail)
    await inject()
    this.count(kind)
    try {
      await this.wait(ms)
    } finally {
      await heal()
      record.end()
    }
  }

  /** Starts, thaws, resumes and un-lags every replica and resets `synchronous_commit`; every step is tried. */
  async heal(): Promise<void> {
    for (const proxy of this.proxies.values()) proxy.heal()
    await healCluster(this.cluster, this.replicas, this.errors)
  }
}

/** The test kit's start: replicas keep what their queries see (`hot_standby_feedback = on`), PostgreSQL's default delay. */
const RECOVERY_CONFLICTS_HEALED = { hotStandbyFeedback: true, maxStandbyStreamingDelayMs: 30_000 }

async function setPrimarySyncCommit(cluster: FaultableCluster, on: boolean): Promise<void> {
  if (!('pgBin' in cluster.info)) return // MariaDB: nothing to turn off (see MARIADB_FAULTS)
  await cluster.query('primary', on ? 'ALTER SYSTEM RESET synchronous_commit' : 'ALTER SYSTEM SET synchronous_commit = off')
  await cluster.query('primary', 'SELECT pg_reload_conf()')
}

/** Heals the whole cluster, trying every step even when one fails; failures are appended to `errors`. */
export async function healCluster(cluster: FaultableCluster, replicas: readonly string[], errors: string[] = []): Promise<void> {
  const attempt = async (what: string, step: () => Promise<unknown>): Promise<void> => {
    try {
      await step()
    } catch (error) {
      errors.push(`heal ${what}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  await attempt('synchronous_commit', () => setPrimarySyncCommit(cluster, true))
  for (const name of replicas) {
    if (cluster.isRunning(name)) await attempt(`thaw ${name}`, () => cluster.thawReplica(name))
    else await attempt(`start ${name}`, () => cluster.startReplica(name))
    await attempt(`lag ${name}`, () => cluster.setReplicaLag(name, 0))
    await attempt(`resume ${name}`, () => cluster.resumeReplay(name))
    if ('pgBin' in cluster.info) await attempt(`recovery conflicts ${name}`, () => (cluster as LocalCluster).setRecoveryConflicts(name, RECOVERY_CONFLICTS_HEALED))
  }
  await attempt('replication', () => cluster.waitForReplication({ timeoutMs: 30_000 }))
}
