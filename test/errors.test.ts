import { describe, expect, it } from 'vitest'
import {
  InvalidOptionError,
  ReplicaInTransactionError,
  ReplicaRouterError,
  ReplicaWriteError,
  RoutingPolicyError,
  UnknownReplicaError,
  isInvalidOptionError,
  isReplicaInTransactionError,
  isReplicaRouterError,
  isReplicaWriteError,
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
