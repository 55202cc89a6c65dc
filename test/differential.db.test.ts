/**
 * The differential tester, a short seeded run (test/support/differential): reads over models with relations,
 * enums, Json, Decimal, DateTime, BigInt and Bytes, with random arguments, through random extension stacks before
 * and after the router and every entry point, answer exactly as a plain client with the same extensions (errors
 * included). Longer runs: `npm run fuzz -- --seconds N [--seed S]`.
 */
import { describe, expect, it } from 'vitest'
import { prepare, runDifferential } from './support/differential/run.ts'
import { topology, waitForReplication } from './support/db.ts'

/** Fixed seed; override with FUZZ_SEED (and the number of runs with FUZZ_CASES). */
const seed = Number(process.env.FUZZ_SEED ?? 20261207)
const cases = Number(process.env.FUZZ_CASES ?? 15)

describe('differential: the routed client answers as a plain client with the same extensions (seeded, randomized)', () => {
  it(`${String(cases)} runs (fresh clients, one stack each) of 5-20 cases (generated reads) each (seed ${String(seed)})`, async () => {
    const target = await prepare({ primaryUrl: topology.primaryUrl, replicas: topology.replicas, waitForReplication: () => waitForReplication() })
    // The local cluster lets the tester's role in: the row-level policy binds its clients.
    if (!process.env.PRIMARY_URL) expect(target.rowLevel).toBe(true)
    const result = await runDifferential(target, { seed, runs: cases, minReads: 5, maxReads: 20 })
    console.info(
      `differential, seed ${String(seed)}: ${String(result.runs)} runs, ${String(result.stats.reads)} cases (${String(result.stats.onReplicas)} served by replicas, ${String(result.stats.errors)} errors compared)`,
    )
    expect(result.failure).toBeUndefined()
    // The comparison is worth something only if replicas served most reads, and errors were compared too.
    expect(result.stats.onReplicas).toBeGreaterThan(result.stats.reads / 2)
    expect(result.stats.errors).toBeGreaterThan(0)
  }, 180_000)
})
