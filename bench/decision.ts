/**
 * bench/decision — `npm run bench:decision`. In-process cost of one routing decision, measured on the router's own
 * decision code (src/read-plan.ts, ReadPlanner.read: rules, scope lookup, read-your-writes requirement, policy
 * pick; the plan handed to an executor that only keeps it), for each policy with 2 and 16 replicas, no database:
 * in a scope that wrote nothing, and in a scope after a write whose position every replica is known to have
 * replayed (the read-your-writes path). Per-op times are measured in batches of 100 decisions (one hrtime pair per
 * batch, so the timer does not dominate).
 */
import { leastInFlight, random, roundRobin, runInScope, weighted, type RoutingPolicy } from '../src/index.ts'
import { resolveOptions } from '../src/options.ts'
import { ReadPlanner, type ReadPlan } from '../src/read-plan.ts'
import { Router } from '../src/router.ts'
import { fakeClient } from '../test/support/fake-client.ts'
import { emitResult, median, percentile } from './support.ts'

const policies: Record<string, () => RoutingPolicy> = { 'round-robin': roundRobin, random: () => random(), weighted, 'least-in-flight': leastInFlight }
const BATCH = 100
const BATCHES = 5000
const DONE = Promise.resolve()
let planned: ReadPlan | undefined
const execute = (plan: ReadPlan): Promise<void> => {
  planned = plan
  return DONE
}

const rows: { policy: string; replicas: number; scope: string; p50: number; p99: number }[] = []
for (const replicas of [2, 16]) {
  for (const [name, make] of Object.entries(policies)) {
    for (const scope of ['no write', 'after a write'] as const) {
      const options = resolveOptions({
        replicas: Array.from({ length: replicas }, (_, i) => ({ client: fakeClient(), weight: 1 + (i % 3) })),
        policy: make(),
        sticky: { monotonic: false },
      })
      const router = new Router(options, () => Promise.resolve(0n))
      // Every replica known to have replayed past the write's position (no check needed).
      for (const replica of router.replicas) replica.replay = 1n << 40n
      const planner = new ReadPlanner(router, options.rules, { reach: () => Promise.resolve(true) })
      const perOp: number[] = []
      await runInScope(async () => {
        if (scope === 'after a write') {
          router.endWrite()
          await router.requirement() // the write's position, known from now on
        }
        for (let b = 0; b < BATCHES + 500; b++) {
          const start = process.hrtime.bigint()
          for (let i = 0; i < BATCH; i++) void planner.read('User', 'findMany', execute)
          if (b >= 500) perOp.push(Number(process.hrtime.bigint() - start) / BATCH) // first 500 batches: warm-up
          // Between batches, the promises of the batch settle (an application awaits its reads), outside the timing.
          await DONE
        }
      })
      if (planned?.target !== 'replica') throw new Error(`the ${scope} scope's reads were not planned for a replica`)
      rows.push({ policy: name, replicas, scope, p50: median(perOp), p99: percentile(perOp, 99) })
    }
  }
}
console.log(`\nOne routing decision, ${String(BATCHES)} batches of ${String(BATCH)} after warm-up (ns per decision)\n`)
console.log('| policy | replicas | scope | p50 | p99 | target p99 ≤ 1000 ns |')
console.log('| --- | ---: | --- | ---: | ---: | :---: |')
for (const r of rows) console.log(`| ${r.policy} | ${String(r.replicas)} | ${r.scope} | ${r.p50.toFixed(0)} ns | ${r.p99.toFixed(0)} ns | ${r.p99 <= 1000 ? 'yes' : 'no'} |`)
emitResult('decision', rows)
