/**
 * The randomized, seeded session checker (test/support/session-checker) on a real MariaDB primary + 2 GTID
 * replicas and a pooled entry over both: two router instances handing consistency tokens, transactions, raw
 * writes, extension stacks around the routers (writes through a captured client), and faults injected for real
 * (MASTER_DELAY on one or every replica, replay stopped, SIGSTOP, SIGKILL outages and crashes). Every read is
 * checked against the history. The same on PostgreSQL: test/session-guarantees.db.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { report, runSessionCheck, writesOnce } from './support/session-checker/run.ts'
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
