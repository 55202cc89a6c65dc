import { runInNewContext } from 'node:vm'
import { describe, expect, it, vi } from 'vitest'
import {
  InvalidConsistencyTokenError,
  InvalidOptionError,
  NoReplicaAvailableError,
  NotPrimaryError,
  ReadOnlyTransactionError,
  ReplicaInTransactionError,
  ReplicaRouterError,
  ReplicaWriteError,
  RoutingPolicyError,
  TimeoutError,
  UnknownReplicaError,
  isInvalidConsistencyTokenError,
  isInvalidOptionError,
  isNoReplicaAvailableError,
  isNotPrimaryError,
  isReadOnlyTransactionError,
  isReplicaInTransactionError,
  isReplicaRouterError,
  isReplicaWriteError,
  isRoutingPolicyError,
  isTimeoutError,
  isUnknownReplicaError,
} from '../src/index.ts'

describe('errors', () => {
  it('carry their name and context, and share a base class', () => {
    const write = new ReplicaWriteError('User', 'create', 'replica-1')
    expect(write).toBeInstanceOf(ReplicaRouterError)
    expect(write).toBeInstanceOf(Error)
    expect([write.name, write.model, write.operation, write.replica]).toEqual(['ReplicaWriteError', 'User', 'create', 'replica-1'])
    const unknown = new UnknownReplicaError('x', ['a', 'b'])
    expect([unknown.name, unknown.replica, unknown.known]).toEqual(['UnknownReplicaError', 'x', ['a', 'b']])
    expect(new ReplicaInTransactionError().name).toBe('ReplicaInTransactionError')
    expect(new RoutingPolicyError('p', 'broke').message).toBe('Routing policy `p` broke')
    const option = new InvalidOptionError('policy', 'bad')
    expect(option).toBeInstanceOf(TypeError)
    expect([option.name, option.option]).toEqual(['InvalidOptionError', 'policy'])
  })

  it('type guards recognise their own class, and by name across module copies', () => {
    expect(isReplicaRouterError(new ReplicaWriteError('U', 'create', 'r'))).toBe(true)
    expect(isReplicaRouterError(new Error('x'))).toBe(false)
    expect(isReplicaWriteError(new ReplicaWriteError('U', 'create', 'r'))).toBe(true)
    expect(isReplicaWriteError(Object.assign(new Error('x'), { name: 'ReplicaWriteError' }))).toBe(true)
    expect(isReplicaWriteError(new UnknownReplicaError('x', []))).toBe(false)
    expect(isUnknownReplicaError(new UnknownReplicaError('x', []))).toBe(true)
    expect(isReplicaInTransactionError(new ReplicaInTransactionError())).toBe(true)
    const readOnly = new ReadOnlyTransactionError('user', 'create')
    expect([readOnly.name, readOnly.model, readOnly.operation]).toEqual(['ReadOnlyTransactionError', 'user', 'create'])
    expect(isReadOnlyTransactionError(readOnly)).toBe(true)
    expect(isReadOnlyTransactionError(Object.assign(new Error('x'), { name: 'ReadOnlyTransactionError' }))).toBe(true)
    expect(isReadOnlyTransactionError(new ReplicaWriteError('U', 'create', 'r'))).toBe(false)
    expect(new ReadOnlyTransactionError(undefined, '$executeRaw').message).toContain('Cannot run `$executeRaw` in a read-only transaction')
    expect(isInvalidOptionError(new InvalidOptionError('a', 'b'))).toBe(true)
    expect(isInvalidOptionError(new TypeError('b'))).toBe(false)
    expect(isReplicaWriteError(null)).toBe(false)
  })
})

describe('UnknownReplicaError', () => {
  it('shows and keeps a name, never a string that cannot be one', () => {
    expect(new UnknownReplicaError('eu-1', ['a']).replica).toBe('eu-1')
    const fromUrl = new UnknownReplicaError('postgres://u:pw@h/d', ['a'])
    expect([fromUrl.replica, fromUrl.message]).toEqual([undefined, 'Unknown replica (a string of 19 characters (not shown)); configured replicas: `a`'])
    expect(new UnknownReplicaError(42, ['a']).message).toBe('Unknown replica (`42` (number)); configured replicas: `a`')
  })
})

describe('every error class has its guard, which works across copies of the package and realms', () => {
  const samples = () =>
    [
      [new ReplicaWriteError('U', 'create', 'r'), isReplicaWriteError],
      [new ReplicaInTransactionError(), isReplicaInTransactionError],
      [new UnknownReplicaError('x', []), isUnknownReplicaError],
      [new RoutingPolicyError('p', 'broke'), isRoutingPolicyError],
      [new NoReplicaAvailableError('User', 'findMany', []), isNoReplicaAvailableError],
      [new InvalidConsistencyTokenError('malformed'), isInvalidConsistencyTokenError],
      [new NotPrimaryError('DATABASE_URL'), isNotPrimaryError],
      [new TimeoutError('a read on a replica', 5000), isTimeoutError],
    ] as const

  it('each guard is true for its class only; the base guard for all of them', () => {
    for (const [error] of samples()) {
      expect(isReplicaRouterError(error), error.name).toBe(true)
      for (const [other, otherGuard] of samples()) expect(otherGuard(error), `${otherGuard.name}(${error.name})`).toBe(other.name === error.name)
    }
    expect(isTimeoutError(new TimeoutError('x', 1))).toBe(true)
    expect(new TimeoutError('a read on a replica', 5000)).toMatchObject({ code: 'timeout', timeoutMs: 5000, message: 'a read on a replica timed out after 5000 ms' })
  })

  it('errors made by another copy of the package (a second module instance) pass every guard', async () => {
    vi.resetModules()
    // The same file under another URL: a second module instance, as a second copy of the package would be.
    const url = new URL('../src/errors/index.ts', import.meta.url).href + '?copy'
    const copy = (await import(/* @vite-ignore */ url)) as typeof import('../src/errors/index.ts')
    const foreign = new copy.ReplicaWriteError('U', 'create', 'r')
    expect(foreign).not.toBeInstanceOf(ReplicaRouterError)
    expect(isReplicaRouterError(foreign)).toBe(true)
    expect(isReplicaWriteError(foreign)).toBe(true)
    expect(isTimeoutError(new copy.TimeoutError('x', 1))).toBe(true)
    expect(isInvalidOptionError(new copy.InvalidOptionError('policy', 'bad'))).toBe(true)
    expect(isReplicaRouterError(Object.assign(new Error('x'), { name: 'ReplicaWriteError' }))).toBe(false)
  })

  it('an error of another realm (node:vm) passes the base guard through the global symbol registry', () => {
    const error = runInNewContext("const e = new Error('x'); e.name = 'RoutingPolicyError'; e[Symbol.for('prisma-replica-router.error')] = true; e") as unknown
    expect(error instanceof Error).toBe(false)
    expect(isReplicaRouterError(error)).toBe(true)
    expect(isRoutingPolicyError(error)).toBe(true)
  })

  it("NoReplicaAvailableError names `fallback: 'error'` only for a routed read, not for $replica()", () => {
    expect(new NoReplicaAvailableError('User', 'findMany', [{ name: 'a', state: 'down' }]).message).toBe("No replica available for `User.findMany`: a down (fallback: 'error')")
    expect(new NoReplicaAvailableError(undefined, '$replica', [{ name: 'a', state: 'down' }]).message).toBe('No replica available for `$replica`: a down')
  })
})
