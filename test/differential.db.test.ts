/**
 * The differential tester, a short seeded run (test/support/differential): reads over models with relations,
 * enums, Json, Decimal, DateTime, BigInt and Bytes, with random arguments, through random extension stacks before
 * and after the router and every entry point, answer exactly as a plain client with the same extensions (errors
 * included). Longer runs: `npm run fuzz -- --seconds N [--seed S]`.
 */
import { describe, expect, it } from 'vitest'
import type { Case } from './support/differential/arbitraries.ts'
import { prepare, runCase, runDifferential } from './support/differential/run.ts'
import { topology, waitForReplication } from './support/db.ts'

/** Fixed seed; override with FUZZ_SEED (and the number of runs with FUZZ_CASES). */
const seed = Number(process.env.FUZZ_SEED ?? 20261207)
const cases = Number(process.env.FUZZ_CASES ?? 15)

/** Shrunk cases the tester found (each failed before its fix), replayed in both error formats. */
const FOUND: readonly { readonly why: string; readonly case: Omit<Case, 'errorFormat'> }[] = [
  {
    why: 'a read a row-level extension batches after `set_config` in `$replica().$transaction` runs in that batch (else: every tenant)',
    case: {
      layers: [{ ingredient: 'row-level', position: 'before' }],
      omit: undefined,
      reads: [{ entry: 'replica-transaction', query: { model: 'Article', operation: 'findMany', args: { orderBy: [{ id: 'asc' }] } } }],
    },
  },
  {
    why: "the same read with invalid arguments: its validation error names `article.findMany()`, not the batch's `$executeRaw()` (seed 20261210)",
    case: {
      layers: [{ ingredient: 'row-level', position: 'before' }],
      omit: { article: { body: true } },
      reads: [{ entry: 'replica-transaction', query: { model: 'Article', operation: 'findMany', args: { where: { nope: 1 } } } }],
    },
  },
]

describe('differential: cases the tester found', () => {
  for (const found of FOUND) {
    it.each(['minimal', 'colorless'] as const)(`${found.why} (%s errors)`, async (errorFormat) => {
      const target = await prepare({ primaryUrl: topology.primaryUrl, replicas: topology.replicas, waitForReplication: () => waitForReplication() })
      const stats = { reads: 0, errors: 0, onReplicas: 0 }
      expect(await runCase(target, { ...found.case, errorFormat }, stats)).toBeUndefined()
      expect(stats.reads).toBe(found.case.reads.length)
    })
  }
})

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
