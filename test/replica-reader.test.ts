/**
 * Executing reads with failover (src/replica-reader.ts), pure logic over fake clients whose model methods answer
 * or fail as told. The same behaviour on real servers, with real outages: test/read-replicas.failover.db.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { isNoReplicaAvailableError, type ReplicaCandidate, type RouteEvent } from '../src/index.ts'
import { resolveOptions, type ReadReplicasOptions } from '../src/options.ts'
import { ReplicaReader, type ReadRequest } from '../src/replica-reader.ts'
import { Router } from '../src/router.ts'
import { fakeClient } from './support/fake-client.ts'

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })

/** A replica client whose `user.findMany` answers with its name, or fails as `fail` says. */
function replica(name: string, fail: () => Error | undefined) {
  const findMany = (): Promise<string[]> => {
    const error = fail()
    return error ? Promise.reject(error) : Promise.resolve([name])
  }
  return { client: { ...fakeClient(), user: { findMany } }, name }
}

function setup(fails: Record<string, () => Error | undefined>, options: Partial<ReadReplicasOptions> = {}) {
  const events: RouteEvent[] = []
  const resolved = resolveOptions({
    replicas: Object.entries(fails).map(([name, fail]) => replica(name, fail)),
    sticky: false,
    readTimeoutMs: false,
    onRoute: (e: RouteEvent) => events.push(e),
    ...options,
  })
  const router = new Router(resolved, () => Promise.resolve(0n))
  const reader = new ReplicaReader(router, resolved, { alive: () => undefined, running: () => Promise.resolve(undefined) })
  const read = (): Promise<unknown> => {
    const request: ReadRequest = { operation: 'findMany', args: {}, query: () => Promise.resolve(['primary']), path: undefined, replicaArgs: {}, request: undefined }
    return reader.read('User', request)
  }
  return { router, read, events }
}

const none = () => undefined

describe('executing reads, with failover', () => {
  it('a read fails at the connection level: that replica leaves rotation, the read is retried once on another', async () => {
    const { router, read, events } = setup({ a: refused, b: none })
    expect(await read()).toEqual(['b'])
    expect(router.replicas.map((r) => r.state)).toEqual(['down', 'up'])
    expect(events.map((e) => `${e.reason} ${e.replica ?? e.target}`)).toEqual(['read a', 'retry b'])
    expect(router.stats()).toMatchObject({ retries: 1, fallbacks: 0 })
    expect(router.replicas.map((r) => [r.inFlight, r.reads, r.failures])).toEqual([
      [0, 0, 1],
      [0, 1, 0],
    ])
  })

  it('both fail: the primary answers; with fallback "error", a NoReplicaAvailableError with the failure as its cause', async () => {
    const lenient = setup({ a: refused, b: refused })
    expect(await lenient.read()).toEqual(['primary'])
    expect(lenient.events.map((e) => `${e.reason} ${e.replica ?? e.target}`)).toEqual(['read a', 'retry b', 'retry primary'])
    const strict = setup({ a: refused, b: refused }, { fallback: 'error' })
    const error = await strict.read().catch((e: unknown) => e)
    expect(isNoReplicaAvailableError(error)).toBe(true)
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('an error of the query itself is never retried: it is the read’s', async () => {
    const own = () => Object.assign(new Error('Unique constraint failed'), { code: 'P2002' })
    const { router, read, events } = setup({ a: own, b: none })
    await expect(read()).rejects.toThrow('Unique constraint failed')
    expect(router.replicas.map((r) => r.state)).toEqual(['up', 'up'])
    expect(events.map((e) => e.reason)).toEqual(['read'])
  })

  it('no replica in rotation: a fallback to the primary, counted', async () => {
    const { router, read } = setup({ a: none, b: none })
    for (const r of router.replicas) router.set.fail(r, 'ECONNREFUSED')
    expect(await read()).toEqual(['primary'])
    expect(router.stats()).toMatchObject({ fallbacks: 1, retries: 0 })
  })
})

describe('a replica that goes down under its reads', () => {
  /** Replica `a` never answers (a pool waiting for a connection to a dead server); `b` answers. */
  function hanging() {
    const a = { client: { ...fakeClient(), user: { findMany: () => new Promise<never>(() => undefined) } }, name: 'a' }
    const b = replica('b', none)
    const resolved = resolveOptions({ replicas: [a, b], sticky: false, readTimeoutMs: false, policy: { name: 'a first', pick: (c: readonly ReplicaCandidate[]) => c[0]! } })
    const router = new Router(resolved, () => Promise.resolve(0n))
    const reader = new ReplicaReader(router, resolved, { alive: () => undefined, running: () => Promise.resolve(undefined) })
    const request: ReadRequest = { operation: 'findMany', args: {}, query: () => Promise.resolve(['primary']), path: undefined, replicaArgs: {}, request: undefined }
    return { router, read: () => reader.read('User', request) }
  }

  it('gone (a connection-level failure seen elsewhere, e.g. by the health check): its reads are done elsewhere at once', async () => {
    const { router, read } = hanging()
    const pending = read()
    expect(router.replicas[0]!.inFlight).toBe(1)
    router.set.fail(router.replicas[0]!, 'ECONNREFUSED')
    expect(await pending).toEqual(['b'])
    expect(router.replicas.map((r) => [r.inFlight, r.failures])).toEqual([
      [0, 1],
      [0, 0],
    ])
  })

  it('only slow (a timeout): its reads go on there', async () => {
    const { router, read } = hanging()
    let settled = false
    void read().finally(() => (settled = true))
    router.set.fail(router.replicas[0]!, 'timeout')
    await Promise.resolve()
    await new Promise((resolve) => setImmediate(resolve))
    expect([settled, router.replicas[0]!.inFlight]).toEqual([false, 1])
  })
})

describe('a read lost with a half-open connection (its server answers, but runs nothing that old)', () => {
  /** Replica `a` never answers (its connection is half-open); `b` does. `running` is what the server says, look by look. */
  function lost(running: () => boolean | undefined) {
    const events: RouteEvent[] = []
    const hang = { client: { ...fakeClient(), user: { findMany: () => new Promise<never>(() => undefined) } }, name: 'a' }
    const resolved = resolveOptions({
      replicas: [hang, replica('b', none)],
      sticky: false,
      readTimeoutMs: 20,
      policy: { name: 'a first', pick: (c: readonly ReplicaCandidate[]) => c[0]! },
      onRoute: (e: RouteEvent) => events.push(e),
    })
    const router = new Router(resolved, () => Promise.resolve(0n))
    let looks = 0
    const reader = new ReplicaReader(router, resolved, {
      alive: () => Promise.resolve(true),
      running: () => {
        looks += 1
        return Promise.resolve(running())
      },
    })
    const request: ReadRequest = { operation: 'findMany', args: {}, query: () => Promise.resolve(['primary']), path: undefined, replicaArgs: {}, request: undefined }
    return { read: () => reader.read('User', request), router, events, looks: () => looks }
  }

  it('two looks in a row find nothing that old: given up as lost, served by another replica; the replica stays up; counted', async () => {
    const { read, router, events, looks } = lost(() => false)
    expect(await read()).toEqual(['b'])
    expect(looks()).toBe(2)
    expect(events.map((e) => `${e.reason} ${e.replica ?? e.target}`)).toEqual(['read a', 'retry b'])
    expect(router.replicas.map((r) => r.state)).toEqual(['up', 'up'])
    expect(router.stats()).toMatchObject({ lostReads: 1, retries: 1, slowReads: 1 })
  })

  it('a look that finds it running starts the count again: lost only after two in a row', async () => {
    const answers = [false, true, false, false]
    const { read, looks } = lost(() => answers.shift())
    expect(await read()).toEqual(['b'])
    expect(looks()).toBe(4)
  })

  it('a server that cannot tell (undefined): never lost, the read waits (as for a busy server)', async () => {
    let n = 0
    const { read, router } = lost(() => {
      n += 1
      // After three looks that cannot tell, the server says it runs nothing that old, twice.
      return n <= 3 ? undefined : false
    })
    expect(await read()).toEqual(['b'])
    expect(n).toBe(5)
    expect(router.stats()).toMatchObject({ lostReads: 1, slowReads: 4 })
  })
})
