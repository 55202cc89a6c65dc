import { expect, it } from 'vitest'
import { PrimaryPosition } from '../src/primary-position.ts'

/** A fake primary whose position queries resolve when the test says so (pure logic: no database here). */
function fakePrimary() {
  const pending: ((lsn: bigint) => void)[] = []
  const position = new PrimaryPosition(() => new Promise<bigint>((resolve) => pending.push(resolve)))
  return { position, pending }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

it('reuses a query that started after the caller’s moment', async () => {
  const { position, pending } = fakePrimary()
  const since = performance.now()
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
  const first = position.after(performance.now())
  await tick()
  const later = performance.now() + 0.001
  while (performance.now() < later) {
    /* let the monotonic clock pass the first query's start */
  }
  const waiting = [position.after(later), position.after(later), position.after(later)]
  pending.shift()?.(10n)
  expect(await first).toBe(10n)
  await tick()
  expect(position.queries).toBe(2)
  pending.shift()?.(20n)
  expect(await Promise.all(waiting)).toEqual([20n, 20n, 20n])
})

it('counts samples observed elsewhere (the health check)', async () => {
  const { position } = fakePrimary()
  const since = performance.now()
  position.observe(since + 1, 99n)
  expect(await position.after(since)).toBe(99n)
  expect(position.queries).toBe(0)
})
