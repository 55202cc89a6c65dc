import { startFaultProxy, type FaultProxy } from '../../../src/testing/fault-proxy.ts'
import { waitForReplay } from '../../../src/testing/local-cluster.ts'
import { checkHistory, formatViolation, type Guarantees, type Violation } from './checker.ts'
import { DEFAULT_FAULTS, FaultSchedule, healCluster, MARIADB_FAULTS, type FaultableCluster, type FaultScheduleOptions } from './faults.ts'
import { History } from './history.ts'
import { startPgBouncer } from '../../../src/testing/pgbouncer.ts'
import { PooledEntry } from '../pooled-entry.ts'
import { NO_STACK, randomStack, type Stack } from './stacks.ts'
import { DEFAULT_WORKLOAD, finalVersions, fluentComputesFields, plainClient, Rng, routedInstance, Workload, type Engine, type WorkloadOptions } from './workload.ts'

export interface SessionRunOptions {
  readonly seed: number
  /** How long the workload runs at least (then until `enough` holds, at most 5 times as long). */
  readonly durationMs: number
  /**
   * What the run must have covered before it stops (e.g. a number of reads, some served by replicas): a
   * condition, not a duration, so that a loaded machine runs longer instead of failing.
   * @default () => true
   */
  readonly enough?: (history: History) => boolean
  readonly primaryUrl: string
  /** The streaming replicas (at least two: the pooled entry spreads over the first two). */
  readonly replicas: readonly { readonly name: string; readonly url: string }[]
  /** Injects faults when given. */
  readonly cluster?: FaultableCluster
  /** @default 'postgresql' */
  readonly engine?: Engine
  readonly guarantees: Guarantees
  readonly workload?: WorkloadOptions
  readonly readTimeoutMs?: number
  /**
   * `sticky.waitMs` of the second instance (the first never waits): both ways of serving a read right after a
   * write are checked in one run.
   * @default 20
   */
  readonly waitMs?: number
  /**
   * The pooled entry (a TCP proxy over the first two replicas) as a third replica: `'configured'` (`pooled:
   * true`, the guarantee's condition), `'detected'` (left to the router's detection, which has a window before
   * it sees two servers: see the README), or `false` (none).
   * @default 'configured'
   */
  readonly pooledEntry?: 'configured' | 'detected' | false
  /**
   * The extension stacks around each instance's router (test/support/session-checker/stacks.ts): `'random'`
   * (seeded; the first instance always with the captured writer before its router, the second with the batched
   * writes before its router), `'none'`, or one per
   * instance.
   * @default 'random'
   */
  readonly stacks?: 'random' | 'none' | readonly [Stack, Stack]
  /**
   * `'pgbouncer'`: every server behind a real PgBouncer in transaction mode (src/testing/pgbouncer.ts): the
   * primary and each replica behind one each, and the pooled entry one PgBouncer spread over the first two
   * replicas (instead of the TCP proxy). Faults still hit the servers behind them.
   * @default false
   */
  readonly poolers?: 'pgbouncer' | false
  /** Fault schedule options (kinds, weights, lag). */
  readonly faults?: FaultScheduleOptions
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void
}

export interface SessionRunResult {
  readonly seed: number
  readonly history: History
  readonly violations: readonly Violation[]
  readonly summary: string
  /** The extension stack of each instance. */
  readonly stacks: readonly Stack[]
  readonly stats: {
    readonly reads: number
    readonly writes: number
    readonly failed: number
    readonly replicaShare: number
    readonly faults: ReadonlyMap<string, number>
    readonly ryw: number
    readonly monotonic: number
    readonly extensions: number
    readonly failedReads: number
    /** Reads and read-only transactions a replica cancelled for a conflict with recovery (`$routerStats()` of both instances). */
    readonly recoveryConflicts: number
    /** Unhandled promise rejections and uncaught exceptions during the run (each would end a Node process). */
    readonly escaped: readonly string[]
    /** Rows whose final version shows a write run twice (or one reported done that never ran). */
    readonly writesOnce: number
    readonly firstRywMs: number | undefined
    readonly firstMonotonicMs: number | undefined
    readonly errors: ReadonlyMap<string, number>
  }
}

function portOf(url: string): number {
  return Number(new URL(url).port)
}

/** A PgBouncer in front of the primary and of each replica, and one spread over the first two replicas. */
async function startBouncers(primaryUrl: string, replicas: readonly { readonly url: string }[]) {
  const primary = await startPgBouncer({ servers: [{ port: portOf(primaryUrl) }] })
  const each = await Promise.all(replicas.map((r) => startPgBouncer({ servers: [{ port: portOf(r.url) }] })))
  const both = await startPgBouncer({ servers: replicas.slice(0, 2).map((r) => ({ port: portOf(r.url) })) })
  return { primary, each, both, all: [primary, ...each, both] }
}

/**
 * Runs the seeded workload over two router instances (each with the two replicas and a pooled entry over both;
 * the second waits up to `waitMs` for a replica after a write),
 * with the fault schedule when a cluster is given, then checks the history. Always heals and disconnects.
 */
export async function runSessionCheck(options: SessionRunOptions): Promise<SessionRunResult> {
  const { seed, replicas } = options
  const [first, second] = replicas
  if (!first || !second) throw new TypeError('runSessionCheck needs two replicas')
  const log = options.log ?? (() => undefined)
  const rng = new Rng(seed)
  const history = new History()
  const database = new URL(first.url).pathname.slice(1)
  const bouncers = options.poolers === 'pgbouncer' ? await startBouncers(options.primaryUrl, replicas) : undefined
  const pooled = bouncers ? undefined : await PooledEntry.start([first, second].map((r) => ({ host: '127.0.0.1', port: portOf(r.url) })))
  // With a cluster to fault and no PgBouncer: each replica reached through a fault-injecting proxy (network faults).
  const proxies = new Map<string, FaultProxy>()
  if (options.cluster && !bouncers) for (const r of replicas) proxies.set(r.name, await startFaultProxy({ target: { port: portOf(r.url) } }))
  const entries: { name: string; url: string; pooled?: boolean }[] = replicas.map((r, i) => ({
    name: r.name,
    url: bouncers?.each[i]?.url(database) ?? proxies.get(r.name)?.url(r.url) ?? r.url,
  }))
  const pooledEntry = options.pooledEntry ?? 'configured'
  if (pooledEntry !== false) entries.push({ name: 'pooled', url: bouncers?.both.url(database) ?? pooled?.url(database, first.url) ?? '', pooled: pooledEntry === 'configured' })
  const primaryUrl = bouncers?.primary.url(database) ?? options.primaryUrl
  const engine = options.engine ?? 'postgresql'
  const stackOption = options.stacks ?? 'random'
  const stacks: readonly Stack[] =
    stackOption === 'none'
      ? [NO_STACK, NO_STACK]
      : stackOption === 'random'
        ? [randomStack(rng.fork(13), ['captured-writer']), randomStack(rng.fork(14), ['batch-writes'])]
        : stackOption
  const instances = [0, 1].map((i) =>
    routedInstance(primaryUrl, entries, history.onRoute(i), options.readTimeoutMs ?? 1000, engine, i === 1 ? (options.waitMs ?? 20) : 0, stacks[i]),
  )
  log(`stacks: ${stacks.map((s, i) => `instance ${String(i)} ${s.toString()}`).join('; ')}`)
  const tag = `${seed.toString(36)}.${Date.now().toString(36)}`
  const workload = new Workload(
    history,
    instances,
    rng.fork(7),
    tag,
    options.workload ?? (engine === 'mariadb' ? { ...DEFAULT_WORKLOAD, localSyncCommitOff: false, engine } : DEFAULT_WORKLOAD),
  )
  const faults = options.cluster
    ? new FaultSchedule(
        options.cluster,
        replicas.map((r) => r.name),
        rng.fork(11),
        history,
        options.faults ?? (engine === 'mariadb' ? MARIADB_FAULTS : DEFAULT_FAULTS),
        proxies,
      )
    : undefined
  let faultErrors: string[] = []
  /** Reads and read-only transactions the replicas cancelled for a conflict with recovery, as both routers counted them. */
  let recoveryConflicts = 0
  // A promise rejection nobody handles, or an exception nobody catches, ends a Node process by default: none may
  // escape from anything the routers own or drive, whatever the faults.
  const escaped: string[] = []
  // With where it came from: the first frames of its stack.
  const frames = (error: Error) =>
    (error.stack ?? '')
      .split('\n')
      .slice(1, 6)
      .map((line) => line.trim())
      .join(' < ')
  const onUnhandled = (reason: unknown) =>
    escaped.push(`unhandled rejection: ${reason instanceof Error ? `${reason.name}: ${reason.message} (${frames(reason)})` : String(reason)}`)
  const onUncaught = (error: Error) => escaped.push(`uncaught exception: ${error.name}: ${error.message} (${frames(error)})`)
  process.on('unhandledRejection', onUnhandled)
  process.on('uncaughtExceptionMonitor', onUncaught)
  try {
    // The rows a tenant filter hides (owner `…:hidden`): unknown to the history, never in a filtered answer.
    const seeder = plainClient(options.primaryUrl, engine)
    try {
      await seeder.cell.createMany({ data: [1, 2, 3].map((n) => ({ id: `${tag}-hidden-${String(n)}`, owner: `${tag}:hidden` })) })
    } finally {
      await seeder.$disconnect()
    }
    workload.fluentComputes = await fluentComputesFields(options.primaryUrl, engine, tag)
    if (!workload.fluentComputes) log('this Prisma release gives fluent reads no computed fields (a plain client neither): not checked there')
    if (options.cluster) await options.cluster.waitForReplication()
    else await waitForReplay(options.primaryUrl, replicas)
    faults?.start()
    const running = workload.run()
    const started = performance.now()
    const enough = options.enough ?? (() => true)
    // At least durationMs; then until the run has covered what it must, or 5 × durationMs.
    const timer = setInterval(() => {
      const elapsed = performance.now() - started
      if (elapsed >= 5 * options.durationMs || (elapsed >= options.durationMs && enough(history))) workload.stop()
    }, 50)
    try {
      await running
    } finally {
      clearInterval(timer)
      workload.stop()
    }
    history.finalVersions = await finalVersions(options.primaryUrl, engine, tag)
  } finally {
    if (faults) {
      await faults.stop()
      faultErrors = faults.errors
    } else if (options.cluster) {
      await healCluster(
        options.cluster,
        replicas.map((r) => r.name),
        faultErrors,
      )
    }
    for (const instance of instances) recoveryConflicts += (instance.prisma.$routerStats() as { recoveryConflicts: number }).recoveryConflicts
    try {
      await Promise.allSettled(instances.map((i) => i.prisma.$disconnect()))
      await pooled?.stop()
      await Promise.all(bouncers?.all.map((b) => b.stop()) ?? [])
      await Promise.all([...proxies.values()].map((p) => p.close()))
      // One turn of the event loop for rejections of the last moment (they are reported after microtasks run).
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('unhandledRejection', onUnhandled)
      process.off('uncaughtExceptionMonitor', onUncaught)
    }
  }
  for (const e of faultErrors) log(`fault error: ${e}`)
  const checkStarted = performance.now()
  const violations = checkHistory(history, seed, options.guarantees)
  log(`checked ${String(history.ops.length)} operations in ${((performance.now() - checkStarted) / 1000).toFixed(1)} s`)

  const reads = history.ops.filter((o) => o.kind === 'read')
  const onReplica = reads.filter((o) => o.events.at(-1)?.target === 'replica').length
  const writes = history.ops.filter((o) => o.kind !== 'read' && o.kind !== 'token')
  const failed = history.ops.filter((o) => !o.ok)
  const errors = new Map<string, number>()
  for (const o of failed) {
    const key = `${o.kind}: ${(o.error ?? '').slice(0, 80)}`
    errors.set(key, (errors.get(key) ?? 0) + 1)
  }
  const ryw = violations.filter((v) => v.guarantee === 'read-your-writes')
  const mono = violations.filter((v) => v.guarantee === 'monotonic-reads')
  const skipped = violations.filter((v) => v.guarantee === 'extensions')
  const readFailures = violations.filter((v) => v.guarantee === 'reads-succeed')
  const doubled = violations.filter((v) => v.guarantee === 'writes-once')
  const faultCounts: ReadonlyMap<string, number> = faults?.injected ?? new Map<string, number>()
  const pooledShare = pooled ? pooled.connections.join('/') : 'pgbouncer'
  const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)}s`)
  const summary =
    `session-check seed=${String(seed)} ${(options.durationMs / 1000).toFixed(0)}s: ` +
    `reads=${String(reads.length)} (ok ${String(reads.length - failed.filter((o) => o.kind === 'read').length)}) writes=${String(writes.length)} failed-ops=${String(failed.length)} ` +
    `faults=${String([...faultCounts.values()].reduce((a, b) => a + b, 0))} {${[...faultCounts].map(([k, n]) => `${k}:${String(n)}`).join(' ')}} ` +
    `recovery-conflicts=${String(recoveryConflicts)} unhandled=${String(escaped.length)} ` +
    `replica-share=${(reads.length === 0 ? 0 : (onReplica / reads.length) * 100).toFixed(1)}% ` +
    `violations: read-your-writes=${String(ryw.length)}${options.guarantees.readYourWrites ? '' : '(off)'} ` +
    `monotonic=${String(mono.length)}${options.guarantees.monotonicReads ? '' : '(off)'} ` +
    `extensions=${String(skipped.length)}${(options.guarantees.extensions ?? true) ? '' : '(off)'} ` +
    `failed-reads=${String(readFailures.length)}${(options.guarantees.readsSucceed ?? true) ? '' : '(off)'} ` +
    `writes-once=${String(doubled.length)}${(options.guarantees.writesOnce ?? true) ? '' : '(off)'} ` +
    `first-ryw=${seconds(ryw[0]?.at)} first-monotonic=${seconds(mono[0]?.at)} pooled-connections=${pooledShare}`
  return {
    seed,
    history,
    violations,
    summary,
    stacks,
    stats: {
      reads: reads.length,
      writes: writes.length,
      failed: failed.length,
      replicaShare: reads.length === 0 ? 0 : onReplica / reads.length,
      faults: faultCounts,
      ryw: ryw.length,
      monotonic: mono.length,
      extensions: skipped.length,
      failedReads: readFailures.length,
      recoveryConflicts,
      escaped,
      writesOnce: doubled.length,
      firstRywMs: ryw[0]?.at,
      firstMonotonicMs: mono[0]?.at,
      errors,
    },
  }
}

/**
 * What the writes-once check covered in `result`: the updates the second instance made through the batched writes
 * before its router (a write the router ran again in that batch would show), the rows whose final version was
 * checked, and the violations.
 */
export function writesOnce(result: SessionRunResult): {
  readonly batchedBefore: boolean
  readonly batchedUpdates: number
  readonly rowsChecked: number
  readonly violations: readonly string[]
} {
  return {
    batchedBefore: result.stacks[1]?.position('batch-writes') === 'before',
    batchedUpdates: result.history.ops.filter((op) => op.ok && op.instance === 1 && op.writes.some((w) => w.type === 'update')).length,
    rowsChecked: result.history.finalVersions?.size ?? 0,
    violations: result.violations.filter((v) => v.guarantee === 'writes-once').map((v) => v.what),
  }
}

/** Violations counted by suspect (defect), with the time of the first of each. */
export function bySuspect(violations: readonly Violation[]): Map<string, { count: number; firstMs: number; first: Violation }> {
  const out = new Map<string, { count: number; firstMs: number; first: Violation }>()
  for (const v of violations) {
    for (const s of v.suspects) {
      const key = `${v.guarantee}: ${s.startsWith('monotonic') ? 'monotonic reads not implemented' : s}`
      const cur = out.get(key)
      if (!cur) out.set(key, { count: 1, firstMs: v.at, first: v })
      else cur.count += 1
    }
  }
  return out
}

/** The report printed by the test and the soak: summary, per-suspect counts, the first violations in full. */
export function report(result: SessionRunResult, full = 3): string {
  const lines = [result.summary]
  for (const [key, s] of bySuspect(result.violations)) {
    lines.push(`  ${key}: ${String(s.count)} (first at ${(s.firstMs / 1000).toFixed(2)}s, read #${String(s.first.read.id)})`)
  }
  for (const e of result.stats.escaped.slice(0, 5)) lines.push(`  escaped: ${e}`)
  if (result.stats.errors.size > 0) {
    lines.push('  failed operations:')
    for (const [k, n] of [...result.stats.errors].sort((a, b) => b[1] - a[1]).slice(0, 8)) lines.push(`    ${String(n)} × ${k}`)
  }
  const shown = new Set<string>()
  const firsts = [...bySuspect(result.violations).values()].map((s) => s.first)
  for (const v of [...firsts, ...result.violations]) {
    const key = `${String(v.read.id)}:${v.what}`
    if (shown.has(key) || shown.size >= full + firsts.length) continue
    shown.add(key)
    lines.push(formatViolation(v, result.history.startedAt))
  }
  return lines.join('\n')
}
