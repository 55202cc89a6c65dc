import { expect, it } from 'vitest'
import { PrimaryPosition } from '../src/primary-position.ts'
import { tick as clock } from '../src/scope.ts'

/** A fake primary whose position queries resolve when the test says so (pure logic: no database here). */
function fakePrimary() {
  const pending: ((lsn: bigint) => void)[] = []
  const position = new PrimaryPosition(() => new Promise<bigint>((resolve) => pending.push(resolve)))
  return { position, pending }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

it('reuses a query that started after the caller’s moment', async () => {
  const { position, pending } = fakePrimary()
  const since = clock() // a write ended
  const a = position.after(since)
  const b = position.after(since)
  pending.shift()?.(10n)
  expect(await Promise.all([a, b])).toEqual([10n, 10n])
  expect(position.queries).toBe(1)
  expect(await position.after(since)).toBe(10n) // answered from the last result, no new query
  expect(position.queries).toBe(1)
})

it('callers newer than the query in flight share ONE queued query', async () => {
  const { position, pending } = fakePrimary()
  const first = position.after(clock())
  await turn()
  const later = clock() // a write ended after the first query started: that query may not cover it
  const waiting = [position.after(later), position.after(later), position.after(later)]
  pending.shift()?.(10n)
  expect(await first).toBe(10n)
  await turn()
  expect(position.queries).toBe(2)
  pending.shift()?.(20n)
  expect(await Promise.all(waiting)).toEqual([20n, 20n, 20n])
})

it('counts samples observed elsewhere (the health check)', async () => {
  const { position } = fakePrimary()
  const since = clock()
  position.observe(clock(), 99n)
  expect(await position.after(since)).toBe(99n)
  expect(position.queries).toBe(0)
})

it('a sample whose query started at the tick of the write, or before, does not cover it', async () => {
  const { position, pending } = fakePrimary()
  const startedBefore = clock()
  const since = clock()
  position.observe(startedBefore, 5n)
  const after = position.after(since)
  await turn()
  expect(position.queries).toBe(1)
  pending.shift()?.(6n)
  expect(await after).toBe(6n)
})
