/**
 * bench/decision — `npm run bench:decision`. In-process cost of one routing decision (scope lookup, read-your-
 * writes check, policy pick, and the check whether anyone observes the event: with no `onRoute`, DEBUG or
 * OpenTelemetry context manager, as here, no event is built since 2cc8156) for each policy with 2 and 16
 * replicas, no database. Per-op
 * times are measured in batches of 100 decisions (one hrtime pair per batch, so the timer does not dominate).
 */
import { leastInFlight, random, roundRobin, runInScope, weighted, type RoutingPolicy } from '../src/index.ts'
import { resolveOptions } from '../src/options.ts'
import { Router } from '../src/router.ts'
import { emitResult, median, percentile } from './support.ts'

const fakeClient = { $connect: async () => {}, $disconnect: async () => {}, $extends: () => ({}), $queryRawUnsafe: () => Promise.resolve([]) }
const policies: Record<string, () => RoutingPolicy> = { 'round-robin': roundRobin, random: () => random(), weighted, 'least-in-flight': leastInFlight }
const BATCH = 100
const BATCHES = 5000
const context = { model: 'User', operation: 'findMany' }

const rows: { policy: string; replicas: number; p50: number; p99: number }[] = []
for (const replicas of [2, 16]) {
  for (const [name, make] of Object.entries(policies)) {
    const router = new Router(
      resolveOptions({
        replicas: Array.from({ length: replicas }, (_, i) => ({ client: fakeClient, weight: 1 + (i % 3) })),
        policy: make(),
      }),
      () => Promise.resolve(0n),
    )
    const perOp: number[] = []
    runInScope(() => {
      router.endWrite()
      router.requirement().catch(() => undefined) // settle the scope's pending write once
      for (let b = 0; b < BATCHES + 500; b++) {
        const start = process.hrtime.bigint()
        for (let i = 0; i < BATCH; i++) {
          // The LSN checks of a read: a pending write, else a required position (the scope's write stays pending
          // here: it settles asynchronously). Never throws; it keeps the checks in the measured code.
          const scope = router.scopeState()
          if (scope.pending === undefined && scope.required === undefined) throw new Error('the scope lost its write')
          const replica = router.pick(context)
          if (replica) {
            replica.inFlight++
            if (router.observed()) router.emit('User', 'findMany', 'read', replica)
            replica.inFlight--
          }
        }
        if (b >= 500) perOp.push(Number(process.hrtime.bigint() - start) / BATCH) // first 500 batches: warm-up
      }
    })
    rows.push({ policy: name, replicas, p50: median(perOp), p99: percentile(perOp, 99) })
  }
}
console.log(`\nOne routing decision, ${String(BATCHES)} batches of ${String(BATCH)} after warm-up (ns per decision)\n`)
console.log('| policy | replicas | p50 | p99 | target p99 ≤ 1000 ns |')
console.log('| --- | ---: | ---: | ---: | :---: |')
for (const r of rows) console.log(`| ${r.policy} | ${String(r.replicas)} | ${r.p50.toFixed(0)} ns | ${r.p99.toFixed(0)} ns | ${r.p99 <= 1000 ? 'yes' : 'no'} |`)
emitResult('decision', rows)
