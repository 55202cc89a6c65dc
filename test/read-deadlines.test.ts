import { describe, expect, it } from 'vitest'
import { TimeoutError } from '../src/errors/index.ts'
import { ReadDeadlines } from '../src/read-deadlines.ts'
import { until } from './support/until.ts'

describe('ReadDeadlines', () => {
  it('rejects a read that outlives the timeout with a TimeoutError, and passes others through', async () => {
    const deadlines = new ReadDeadlines(20)
    const never = new Promise<never>(() => undefined)
    await expect(deadlines.run(never)).rejects.toBeInstanceOf(TimeoutError)
    await expect(deadlines.run(Promise.resolve(7))).resolves.toBe(7)
    await expect(deadlines.run(Promise.reject(new Error('own')))).rejects.toThrow('own')
    expect(deadlines.size).toBe(0)
  })

  it('keeps reads in flight in start order and releases any of them, twice harmlessly', () => {
    const deadlines = new ReadDeadlines(10_000)
    const tickets = [1, 2, 3].map(() => deadlines.track(() => undefined))
    expect(deadlines.size).toBe(3)
    deadlines.release(tickets[1]!)
    deadlines.release(tickets[1]!)
    expect(deadlines.size).toBe(2)
    deadlines.release(tickets[2]!)
    deadlines.release(tickets[0]!)
    expect(deadlines.size).toBe(0)
  })

  it('times out only the overdue reads, each once', async () => {
    const deadlines = new ReadDeadlines(20)
    const timedOut: string[] = []
    const first = deadlines.track(() => timedOut.push('first'))
    await until('the first read is overdue', () => timedOut.length === 1)
    const second = deadlines.track(() => timedOut.push('second'))
    deadlines.release(second)
    deadlines.release(first)
    expect(timedOut).toEqual(['first'])
  })

  it('runs one sweeper while reads come and go, and stops it once idle', async () => {
    const deadlines = new ReadDeadlines(20)
    expect(deadlines.sweeping).toBe(false)
    for (let i = 0; i < 100; i++) await deadlines.run(Promise.resolve(i))
    expect(deadlines.sweeping, 'the sweeper outlives a settled read (no timer per read)').toBe(true)
    await until('the sweeper stops once no read is in flight', () => !deadlines.sweeping)
  })

  it('never times a read out before the timeout has passed since it started, wherever in a sweep period it starts', async () => {
    const timeoutMs = 40 // sweeps every 5 ms
    const deadlines = new ReadDeadlines(timeoutMs)
    const elapsed: number[] = []
    let started = 0
    // One read per poll of `until` (every 5 ms or so): reads start at different points of the sweep periods.
    await until('8 reads started', () => {
      const at = performance.now()
      deadlines.track(() => elapsed.push(performance.now() - at))
      return ++started === 8
    })
    await until('every read timed out', () => elapsed.length === 8)
    for (const ms of elapsed) expect(ms).toBeGreaterThanOrEqual(timeoutMs)
    await until('the sweeper stops once no read is in flight', () => !deadlines.sweeping)
  })
})
