import { describe, expect, it } from 'vitest'
import { cluster, topology } from './support/db.ts'
import { findPgBouncer } from '../src/testing/pgbouncer.ts'
import { report, runSessionCheck, writesOnce } from './support/session-checker/run.ts'

function pgBouncerInstalled(): boolean {
  try {
    findPgBouncer()
    return true
  } catch {
    return false
  }
}

/** Fixed seed; override with CHECKER_SEED (and the length with CHECKER_SECONDS). */
const seed = Number(process.env.CHECKER_SEED ?? 20261201)
const seconds = Number(process.env.CHECKER_SECONDS ?? 8)

describe('session guarantees under faults, through extension stacks (seeded, randomized; Jepsen-style history check)', () => {
  it(`read-your-writes and monotonic reads hold for every read (seed ${String(seed)})`, async (ctx) => {
    if (!cluster) ctx.skip(`needs the local cluster to inject faults; this run uses ${topology.kind}`)
    const result = await runSessionCheck({
      seed,
      durationMs: seconds * 1000,
      primaryUrl: topology.primaryUrl,
      replicas: topology.replicas,
      cluster,
      guarantees: { readYourWrites: true, monotonicReads: true },
      readTimeoutMs: 1000,
      // What the assertions below need the run to have covered (a loaded machine runs longer, not less).
      enough: (history) => {
        const ok = history.ops.filter((op) => op.ok)
        const onReplica = (label: string) => ok.some((op) => op.label.startsWith(label) && op.events.some((e) => e.target === 'replica'))
        return (
          ok.filter((op) => op.kind === 'read').length > 100 &&
          ok.some((op) => /captured writer before|captured client, before/.test(op.label)) &&
          ok.some((op) => op.instance === 1 && op.writes.some((w) => w.type === 'update')) &&
          onReplica('$replica().$transaction') &&
          onReplica('$queryRaw')
        )
      },
    })
    console.info(report(result))
    console.info(`stacks: ${result.stacks.map((stack, i) => `instance ${String(i)} ${stack.toString()}`).join('; ')}`)
    // Writes went through the client an extension captured, before the router (the router's chain never saw
    // them), and reads through the stacks' other paths ran: read-your-writes must hold for them all.
    const ran = (pattern: RegExp) => result.history.ops.filter((op) => op.ok && pattern.test(op.label)).length
    const captured = ran(/captured writer before|captured client, before/)
    console.info(`writes through a captured client before the router: ${String(captured)}; captured-client reads: ${String(ran(/ownedBy/))}`)
    expect(captured).toBeGreaterThan(0)
    // The read-only transactions and raw reads of the workload ran, and replicas served some of them.
    const served = (label: string) => {
      const ops = result.history.ops.filter((op) => op.ok && op.label.startsWith(label))
      return { ops: ops.length, onReplicas: ops.filter((op) => op.events.some((e) => e.target === 'replica')).length }
    }
    const transactions = served('$replica().$transaction')
    const raw = served('$queryRaw')
    console.info(
      `read-only transactions: ${String(transactions.ops)} (${String(transactions.onReplicas)} on replicas); raw reads: ${String(raw.ops)} (${String(raw.onReplicas)} on replicas)`,
    )
    expect(transactions.onReplicas).toBeGreaterThan(0)
    expect(raw.onReplicas).toBeGreaterThan(0)
    expect(result.stats.reads).toBeGreaterThan(100)
    expect(result.violations.filter((v) => v.guarantee === 'read-your-writes').map((v) => v.what)).toEqual([])
    expect(result.violations.filter((v) => v.guarantee === 'monotonic-reads').map((v) => v.what)).toEqual([])
    // Every answer went through the stack: no row the tenant filter hides, every computed field right.
    expect(result.violations.filter((v) => v.guarantee === 'extensions').map((v) => v.what)).toEqual([])
    // No read failed (a read-only transaction whose replica died under its callback excepted: README).
    expect(result.violations.filter((v) => v.guarantee === 'reads-succeed').map((v) => v.what)).toEqual([])
    // Nothing escaped: no unhandled rejection, no uncaught exception (either would end a Node process).
    expect(result.stats.escaped).toEqual([])
    // Every write ran once: each row's final version on the primary is what the writes sent to it, writes
    // batched by an extension before the second instance's router included.
    const once = writesOnce(result)
    console.info(`writes once: ${JSON.stringify(once)}`)
    expect(once).toMatchObject({ batchedBefore: true, violations: [] })
    expect(Math.min(once.batchedUpdates, once.rowsChecked)).toBeGreaterThan(0)
  }, 90_000)
})

describe('session guarantees with PgBouncer in the topology (transaction mode, in front of every server; one spread over two standbys as the pooled entry)', () => {
  const poolerSeed = Number(process.env.CHECKER_SEED ?? 20261209)
  it(`read-your-writes and monotonic reads hold for every read (seed ${String(poolerSeed)})`, async (ctx) => {
    if (!cluster) ctx.skip(`needs the local cluster to inject faults; this run uses ${topology.kind}`)
    if (!pgBouncerInstalled()) ctx.skip('PgBouncer is not installed (apt-get install pgbouncer; .ci/run does)')
    const result = await runSessionCheck({
      seed: poolerSeed,
      durationMs: Math.min(seconds, 6) * 1000,
      primaryUrl: topology.primaryUrl,
      replicas: topology.replicas,
      cluster,
      guarantees: { readYourWrites: true, monotonicReads: true },
      readTimeoutMs: 1000,
      poolers: 'pgbouncer',
      enough: (history) => {
        const reads = history.ops.filter((op) => op.ok && op.kind === 'read')
        return reads.length > 100 && reads.some((op) => op.events.at(-1)?.target === 'replica')
      },
    })
    console.info(report(result))
    expect(result.stats.reads).toBeGreaterThan(100)
    expect(result.stats.replicaShare).toBeGreaterThan(0)
    expect(result.violations.map((v) => `${v.guarantee}: ${v.what}`)).toEqual([])
    expect(result.stats.escaped).toEqual([])
  }, 90_000)
})
