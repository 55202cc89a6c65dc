/**
 * The randomized, seeded session checker (test/support/session-checker) on a real MariaDB primary + 2 GTID
 * replicas and a pooled entry over both: two router instances handing consistency tokens, transactions, raw
 * writes, extension stacks around the routers (writes through a captured client), and faults injected for real
 * (MASTER_DELAY on one or every replica, replay stopped, SIGSTOP, SIGKILL outages and crashes). Every read is
 * checked against the history. The same on PostgreSQL: test/session-guarantees.db.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { report, runSessionCheck } from './support/session-checker/run.ts'
import { requireMariadb } from './support/mariadb.ts'

const seed = Number(process.env.CHECKER_SEED ?? 20261202)
const seconds = Number(process.env.CHECKER_SECONDS ?? 6)

describe('MariaDB: session guarantees under faults (seeded, randomized; Jepsen-style history check)', () => {
  it(`read-your-writes and monotonic reads hold for every read (seed ${String(seed)})`, async (ctx) => {
    const cluster = requireMariadb(ctx)
    const result = await runSessionCheck({
      seed,
      durationMs: seconds * 1000,
      primaryUrl: cluster.primaryUrl,
      replicas: cluster.info.replicas.map((r) => ({ name: r.name, url: r.url })),
      cluster,
      engine: 'mariadb',
      guarantees: { readYourWrites: true, monotonicReads: true },
      readTimeoutMs: 1000,
      // What the assertions below need the run to have covered (a loaded machine runs longer, not less).
      enough: (history) =>
        history.ops.filter((op) => op.kind === 'read').length > 100 &&
        history.ops.some((op) => op.ok && op.label.includes('captured writer before')) &&
        history.ops.some((op) => op.ok && op.instance === 1 && op.writes.some((w) => w.type === 'update')),
    })
    console.info(report(result))
    expect(result.stats.reads).toBeGreaterThan(100)
    expect(result.violations.filter((v) => v.guarantee === 'read-your-writes').map((v) => v.what)).toEqual([])
    expect(result.violations.filter((v) => v.guarantee === 'monotonic-reads').map((v) => v.what)).toEqual([])
    // Through the instances' extension stacks (writes through a captured client before the first router): every
    // answer went through the stack, and no read failed.
    console.info(`stacks: ${result.stacks.map((stack, i) => `instance ${String(i)} ${stack.toString()}`).join('; ')}`)
    expect(result.history.ops.filter((op) => op.ok && op.label.includes('captured writer before')).length).toBeGreaterThan(0)
    expect(result.violations.filter((v) => v.guarantee === 'extensions').map((v) => v.what)).toEqual([])
    expect(result.violations.filter((v) => v.guarantee === 'reads-succeed').map((v) => v.what)).toEqual([])
    // Every write ran once: each row's final version on the primary is what the writes sent to it. The second
    // instance writes through the batched writes, before its router (a write the router ran again
    // in that batch would show here).
    const batched = result.history.ops.filter((op) => op.ok && op.instance === 1 && op.writes.some((w) => w.type === 'update'))
    console.info(`rows checked at the end: ${String(result.history.finalVersions?.size ?? 0)}; updates through the batch-writes instance: ${String(batched.length)}`)
    expect(result.stacks[1]?.position('batch-writes')).toBe('before')
    expect(batched.length).toBeGreaterThan(0)
    expect(result.history.finalVersions?.size ?? 0).toBeGreaterThan(0)
    expect(result.violations.filter((v) => v.guarantee === 'writes-once').map((v) => v.what)).toEqual([])
  }, 90_000)
})
