import { describe, expect, it } from 'vitest'
import { isInvalidOptionError, readReplicas, type ReadReplicasOptions } from '../src/index.ts'
import { resolveOptions } from '../src/options.ts'
import type { Prisma } from '../generated/prisma/client.ts'
import { fakeClient } from './support/fake-client.ts'

function errorOf(options: unknown): Error & { option?: string } {
  try {
    readReplicas(options as ReadReplicasOptions)
  } catch (error) {
    return error as Error & { option?: string }
  }
  throw new Error('expected readReplicas() to throw')
}

describe('option validation: a typed error with an exact message, at construction', () => {
  it.each([
    [{ replicas: [] }, 'replicas', 'At least one replica must be specified: `replicas` is empty'],
    [{}, 'replicas', 'At least one replica must be specified: `replicas` is empty'],
    [{ replicas: 'x' }, 'replicas', 'Expected `replicas` to be an array, got `x` (string)'],
    [{ replicas: [{}] }, 'replicas[0].client', 'Expected `replicas[0].client` to be a PrismaClient, got `undefined`'],
    [{ replicas: [fakeClient(), 42] }, 'replicas[1]', 'Expected `replicas[1]` to be a PrismaClient or { client, name?, weight?, pooled? }, got `42` (number)'],
    [{ replicas: [{ client: fakeClient(), weight: 0 }] }, 'replicas[0].weight', 'Expected `replicas[0].weight` to be a finite number > 0, got `0` (number)'],
    [{ replicas: [{ client: fakeClient(), weight: Number.NaN }] }, 'replicas[0].weight', 'Expected `replicas[0].weight` to be a finite number > 0, got `NaN` (number)'],
    [{ replicas: [{ client: fakeClient(), weight: '2' }] }, 'replicas[0].weight', 'Expected `replicas[0].weight` to be a finite number > 0, got `2` (string)'],
    [{ replicas: [{ client: fakeClient(), name: '' }] }, 'replicas[0].name', 'Expected `replicas[0].name` to be 1-64 characters of letters, digits, _ . : -, got `` (string)'],
    [
      {
        replicas: [
          { client: fakeClient(), name: 'a' },
          { client: fakeClient(), name: 'a' },
        ],
      },
      'replicas[1].name',
      'Duplicate replica name `a`: names must be unique',
    ],
    [
      { replicas: [{ client: fakeClient(), wieght: 2 }] },
      'replicas[0].wieght',
      'Unknown option `replicas[0].wieght`; expected one of: `client`, `name`, `weight`, `pooled`, `connection`',
    ],
    [
      { replicas: [{ client: fakeClient(), connection: 'postgresql://u:secret@h/db' }] },
      'replicas[0].connection',
      'Expected `replicas[0].connection` to be a `mysql://` or `mariadb://` connection URL, got a string of 26 characters',
    ],
    [{ replicas: [fakeClient()], raw: 'replica' }, 'raw', 'Expected `raw` to be `primary` or `classify`, got `replica` (string)'],
    [{ replicas: [fakeClient()], primaryConnection: 42 }, 'primaryConnection', 'Expected `primaryConnection` to be a `mysql://` or `mariadb://` connection URL, got `42` (number)'],
    [
      { replicas: [fakeClient()], primaryConnection: 'mysql://u:se cret@h:99999/db' },
      'primaryConnection',
      'Expected `primaryConnection` to be a `mysql://` or `mariadb://` connection URL; it does not parse as a URL (28 characters)',
    ],
    [
      { replicas: [fakeClient()], policy: 'round-robbin' },
      'policy',
      'Expected `policy` to be one of `round-robin`, `random`, `weighted`, `least-in-flight` or a RoutingPolicy ({ name, pick }), got `round-robbin` (string)',
    ],
    [{ replicas: [fakeClient()], policy: { name: '', pick: () => undefined } }, 'policy.name', 'Expected `policy.name` to be a non-empty string, got `` (string)'],
    [{ replicas: [fakeClient()], sticky: { windowMs: -1 } }, 'sticky.windowMs', 'Expected `sticky.windowMs` to be a finite number >= 0, got `-1` (number)'],
    [{ replicas: [fakeClient()], sticky: { windowMs: Infinity } }, 'sticky.windowMs', 'Expected `sticky.windowMs` to be a finite number >= 0, got `Infinity` (number)'],
    [{ replicas: [fakeClient()], sticky: true }, 'sticky', 'Expected `sticky` to be `false` or { mode, windowMs, monotonic, waitMs }, got `true` (boolean)'],
    [{ replicas: [fakeClient()], sticky: { window: 5 } }, 'sticky.window', 'Unknown option `sticky.window`; expected one of: `mode`, `windowMs`, `monotonic`, `waitMs`'],
    [{ replicas: [fakeClient()], sticky: { mode: 'causal' } }, 'sticky.mode', 'Expected `sticky.mode` to be `lsn` or `window`, got `causal` (string)'],
    [{ replicas: [fakeClient()], sticky: { mode: 'lsn', monotonic: 'yes' } }, 'sticky.monotonic', 'Expected `sticky.monotonic` to be a boolean, got `yes` (string)'],
    [{ replicas: [fakeClient()], sticky: { mode: 'window', monotonic: true } }, 'sticky.monotonic', "`sticky.monotonic` applies to `mode: 'lsn'` only, not to `mode: 'window'`"],
    [{ replicas: [{ client: fakeClient(), pooled: 1 }] }, 'replicas[0].pooled', 'Expected `replicas[0].pooled` to be a boolean, got `1` (number)'],
    [{ replicas: [fakeClient()], sticky: { mode: 'lsn', windowMs: 100 } }, 'sticky.windowMs', "`sticky.windowMs` applies to `mode: 'window'` only, not to `mode: 'lsn'`"],
    [{ replicas: [fakeClient()], sticky: { mode: 'window', waitMs: 10 } }, 'sticky.waitMs', "`sticky.waitMs` applies to `mode: 'lsn'` only, not to `mode: 'window'`"],
    [{ replicas: [fakeClient()], sticky: { mode: 'lsn', waitMs: -1 } }, 'sticky.waitMs', 'Expected `sticky.waitMs` to be a finite number >= 0, got `-1` (number)'],
    [{ replicas: [fakeClient()], sticky: { waitMs: '5' } }, 'sticky.waitMs', 'Expected `sticky.waitMs` to be a finite number >= 0, got `5` (string)'],
    [{ replicas: [fakeClient()], onRoute: 'log' }, 'onRoute', 'Expected `onRoute` to be a function, got `log` (string)'],
    [
      { replicas: [fakeClient()], replica: [] },
      'replica',
      'Unknown option `replica`; expected one of: `replicas`, `policy`, `sticky`, `onRoute`, `maxLag`, `fallback`, `health`, `readTimeoutMs`, `onHealthChange`, `rules`, `primaryConnection`, `raw`',
    ],
    [null, 'options', 'Expected options to be an object with `replicas`, got `null`'],
    [{ replicas: [{ client: fakeClient(), name: 'primary' }] }, 'replicas[0].name', '`primary` is reserved for the primary: choose another replica name'],
    [{ replicas: [fakeClient()], rules: 'primary' }, 'rules', 'Expected `rules` to be an object of model name -> rule, got `primary` (string)'],
    [
      { replicas: [fakeClient()], rules: { AuditLog: 'replica-9' } },
      'rules.AuditLog',
      'Expected `rules.AuditLog` to be `primary`, a replica name (`replica-1`) or a RoutingPolicy, got `replica-9` (string)',
    ],
    [{ replicas: [fakeClient()], rules: { 'not a model': 'primary' } }, 'rules.not a model', 'Expected a model name as the key of `rules`, got `not a model` (string)'],
    [{ replicas: [fakeClient()], maxLag: {} }, 'maxLag', 'Expected `maxLag` to set `ms`, `bytes` or both, got an empty object'],
    [{ replicas: [fakeClient()], maxLag: 500 }, 'maxLag', 'Expected `maxLag` to be an object with `ms` or `bytes`, got `500` (number)'],
    [{ replicas: [fakeClient()], maxLag: { ms: 0 } }, 'maxLag.ms', 'Expected `maxLag.ms` to be a finite number > 0, got `0` (number)'],
    [{ replicas: [fakeClient()], maxLag: { bytes: -1 } }, 'maxLag.bytes', 'Expected `maxLag.bytes` to be a finite number > 0, got `-1` (number)'],
    [{ replicas: [fakeClient()], maxLag: { seconds: 1 } }, 'maxLag.seconds', 'Unknown option `maxLag.seconds`; expected one of: `ms`, `bytes`'],
    [{ replicas: [fakeClient()], fallback: 'replica' }, 'fallback', 'Expected `fallback` to be `primary` or `error`, got `replica` (string)'],
    [{ replicas: [fakeClient()], health: { intervalMs: 5 } }, 'health.intervalMs', 'Expected `health.intervalMs` to be a finite number >= 10, got `5` (number)'],
    [{ replicas: [fakeClient()], health: { timeoutMs: 0 } }, 'health.timeoutMs', 'Expected `health.timeoutMs` to be a finite number > 0, got `0` (number)'],
    [
      { replicas: [fakeClient()], health: false },
      'health',
      'Expected `health` to be an object with `intervalMs` or `timeoutMs` or `idleAfterMs` or `wakeTimeoutMs`, got `false` (boolean)',
    ],
    [{ replicas: [fakeClient()], health: { idleAfterMs: -1 } }, 'health.idleAfterMs', 'Expected `health.idleAfterMs` to be a finite number >= 0, got `-1` (number)'],
    [{ replicas: [fakeClient()], health: { idleAfterMs: true } }, 'health.idleAfterMs', 'Expected `health.idleAfterMs` to be a finite number >= 0, got `true` (boolean)'],
    [{ replicas: [fakeClient()], readTimeoutMs: true }, 'readTimeoutMs', 'Expected `readTimeoutMs` to be a finite number > 0, got `true` (boolean)'],
    [{ replicas: [fakeClient()], onHealthChange: {} }, 'onHealthChange', 'Expected `onHealthChange` to be a function, got an object'],
  ])('%j -> %s', (options, option, message) => {
    const error = errorOf(options)
    expect(isInvalidOptionError(error)).toBe(true)
    expect(error).toBeInstanceOf(TypeError)
    expect(error.name).toBe('InvalidOptionError')
    expect(error.option).toBe(option)
    expect(error.message).toBe(message)
  })

  it('keeps the drop-in message of @prisma/extension-read-replicas for an empty list', () => {
    expect(() => readReplicas({ replicas: [] })).toThrow('At least one replica must be specified')
  })

  it('never echoes a connection string or password passed by mistake', () => {
    const secret = 'postgresql://app:hunter2-s3cret@db.internal:5432/prod'
    for (const options of [
      { replicas: [secret] },
      { replicas: [{ client: secret }] },
      { replicas: [{ client: fakeClient(), name: secret }] },
      { replicas: [fakeClient()], policy: secret },
      { replicas: secret },
    ]) {
      const error = errorOf(options)
      expect(isInvalidOptionError(error)).toBe(true)
      expect(error.message).not.toContain('hunter2')
      expect(error.message).not.toContain('db.internal')
      expect(error.message).toContain('characters (not shown)')
    }
  })

  it('applies defaults: round-robin, LSN read-your-writes (window 2 s when chosen), names replica-<n>, weight 1, fallback primary, 1 s health checks, 10 s read timeout', () => {
    const resolved = resolveOptions({ replicas: [fakeClient(), { client: fakeClient(), name: 'b', weight: 3 }] })
    expect(resolved.policy.name).toBe('round-robin')
    expect(resolved.sticky).toEqual({ mode: 'lsn', monotonic: true, waitMs: 0 })
    expect(resolved.replicas.map((r) => [r.name, r.weight, r.index, r.pooled])).toEqual([
      ['replica-1', 1, 0, false],
      ['b', 3, 1, false],
    ])
    expect(resolveOptions({ replicas: [fakeClient()], sticky: false }).sticky).toBe(false)
    expect(resolveOptions({ replicas: [fakeClient()], sticky: {} }).sticky).toEqual({ mode: 'lsn', monotonic: true, waitMs: 0 })
    expect(resolveOptions({ replicas: [fakeClient()], sticky: { waitMs: 25 } }).sticky).toEqual({ mode: 'lsn', monotonic: true, waitMs: 25 })
    expect(resolveOptions({ replicas: [fakeClient()], sticky: { windowMs: 500 } }).sticky).toEqual({ mode: 'window', windowMs: 500 })
    expect(resolveOptions({ replicas: [fakeClient()], sticky: { mode: 'window' } }).sticky).toEqual({ mode: 'window', windowMs: 2000 })
    expect(resolved.fallback).toBe('primary')
    expect(resolved.health).toEqual({ intervalMs: 1000, timeoutMs: 1000, idleAfterMs: 10_000, wakeTimeoutMs: 10_000 })
    expect(resolved.readTimeoutMs).toBe(10_000)
    expect(resolved.maxLag).toEqual({ ms: undefined, bytes: undefined })
    expect(resolveOptions({ replicas: [fakeClient()], readTimeoutMs: false }).readTimeoutMs).toBe(false)
  })

  it('accepts every built-in policy by name and a custom one', () => {
    for (const name of ['round-robin', 'random', 'weighted', 'least-in-flight'] as const) {
      expect(resolveOptions({ replicas: [fakeClient()], policy: name }).policy.name).toBe(name)
    }
    const custom = { name: 'mine', pick: <T>(c: readonly T[]) => c[0] as T }
    expect(resolveOptions({ replicas: [fakeClient()], policy: custom }).policy).toBe(custom)
  })
})

describe('exactOptionalPropertyTypes: an option given as undefined is an option not given', () => {
  it('every option and sub-option explicitly undefined resolves as the defaults do', () => {
    const client = fakeClient()
    const given: ReadReplicasOptions = {
      replicas: [{ client, name: undefined, weight: undefined, pooled: undefined, connection: undefined }],
      policy: undefined,
      sticky: { mode: undefined, windowMs: undefined, monotonic: undefined, waitMs: undefined },
      onRoute: undefined,
      maxLag: undefined,
      fallback: undefined,
      health: { intervalMs: undefined, timeoutMs: undefined, idleAfterMs: undefined, wakeTimeoutMs: undefined },
      readTimeoutMs: undefined,
      onHealthChange: undefined,
      rules: undefined,
      primaryConnection: undefined,
      raw: undefined,
    }
    const plain = (o: unknown) => JSON.stringify(o, (_k, v: unknown) => (typeof v === 'function' ? 'fn' : v instanceof Map ? [...v] : v))
    expect(plain(resolveOptions(given))).toBe(plain(resolveOptions({ replicas: [client] })))
    expect(plain(resolveOptions({ replicas: [client], maxLag: { ms: undefined, bytes: 1000 } }))).toBe(plain(resolveOptions({ replicas: [client], maxLag: { bytes: 1000 } })))
  })
})

describe('rules: model names typed from the generated client', () => {
  it('readReplicas<Prisma.ModelName>() rejects a misspelt model at compile time (npm run typecheck), any string by default', () => {
    const replicas = [{ client: fakeClient(), name: 'analytics' }]
    readReplicas<Prisma.ModelName>({ replicas, rules: { User: 'primary', Post: 'analytics' } })
    // @ts-expect-error -- `Usr` is not a model of this schema
    expect(() => readReplicas<Prisma.ModelName>({ replicas, rules: { Usr: 'primary' } })).not.toThrow() // checked when applied
    readReplicas({ replicas, rules: { Usr: 'primary' } }) // untyped: any string, checked when applied
    expect(resolveOptions({ replicas, rules: { User: undefined, Post: 'primary' } }).rules).toEqual(new Map([['Post', 'primary']]))
  })
})
