/**
 * The self-check of Prisma internals at the first query (src/prisma/self-check.ts), on the real cluster: it passes
 * on this Prisma Client; and with each internal broken on purpose (a Prisma release that changed it, simulated by
 * changing the client, or the router's own copy of Prisma's behaviour), the router warns once naming it, takes
 * Prisma's own path, and answers exactly as a plain client with the same extensions.
 */
import { PrismaPg } from '@prisma/adapter-pg'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PrismaClient } from '../../generated/prisma/client.ts'
import type { RouteEvent } from '../../src/index.ts'
import { checkInternals } from '../../src/prisma/self-check.ts'
import { topology, unique, waitForReplication } from '../support/db.ts'

const client = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }), errorFormat: 'minimal' })

afterEach(() => {
  vi.doUnmock('../../src/prisma/clone-args.ts')
  vi.doUnmock('../../src/prisma/internals.ts')
  vi.resetModules()
})

/** A query component that rewrites (and mutates) its arguments, and computed fields, as applications write them. */
const ALL = [
  {
    name: 'take-cap',
    query: {
      $allModels: {
        findMany({ args, query }: { args: { take?: number }; query: (args: unknown) => PromiseLike<unknown> }) {
          args.take ??= 5
          return query(args)
        },
      },
    },
  },
  { name: 'computed', result: { user: { tag: { needs: { email: true }, compute: (u: { email: string }) => `<${u.email}>` } } } },
]

/** Reads through every path the self-check guards: fast path, chain, computed fields, fluent, a replica, raw requests. */
async function reads(c: Record<string, any>, userId: number, computed: boolean) {
  const args = { where: { id: userId } }
  const out = {
    findMany: await c.user.findMany(args),
    findUnique: await c.user.findUnique({ where: { id: userId }, select: { id: true, ...(computed ? { tag: true } : { email: true }) } }),
    fluent: await c.user.findUnique({ where: { id: userId } }).posts({ orderBy: { id: 'asc' } }),
    count: await c.user.count({ where: { id: userId } }),
    replica: await (c.$replica ? c.$replica() : c).user.findFirst({ where: { id: userId } }),
    // The caller's arguments are never changed by a callback (Prisma copies them for each).
    argsUntouched: JSON.stringify(args) === JSON.stringify({ where: { id: userId } }),
  }
  return JSON.parse(JSON.stringify(out)) as unknown
}

interface Setup {
  /** The extensions under the router (and on the control): which path reads take depends on them. */
  readonly extensions: readonly object[]
  /** Replica clients with an extension of their own (they run reads through their model methods). */
  readonly extendedReplicas?: boolean
  /** Changes each client of the test (a simulated Prisma release); returns what undoes it, if anything outlives the test. */
  readonly change?: (client: PrismaClient) => (() => void) | undefined
}

/** The router (imported afresh, with whatever is mocked) over the extensions, its warnings, and a plain control. */
async function setUp({ extensions, extendedReplicas = false, change }: Setup) {
  const { readReplicas } = await import('../../src/index.ts')
  const { INTERNALS_WARNING } = await import('../../src/prisma/self-check.ts')
  const warnings: string[] = []
  const onWarning = (w: Error) => {
    if ((w as { code?: string }).code === INTERNALS_WARNING) warnings.push(w.message)
  }
  process.on('warning', onWarning)
  const events: RouteEvent[] = []
  const undos: ((() => void) | undefined)[] = []
  const make = (url: string) => {
    const c = client(url)
    undos.push(change?.(c))
    return c
  }
  const base = make(topology.primaryUrl)
  let under: any = base
  for (const e of extensions) under = under.$extends(e)
  const replica = (url: string) => (extendedReplicas ? make(url).$extends({ name: 'replica-own', client: { $own: () => 1 } }) : make(url))
  const routed = under.$extends(readReplicas({ replicas: topology.replicas.map((r) => replica(r.url)), sticky: false, onRoute: (e) => events.push(e) }))
  let control: any = make(topology.primaryUrl)
  for (const e of extensions) control = control.$extends(e)
  const writer = client(topology.primaryUrl)
  const user = await writer.user.create({ data: { email: `${unique('self-check')}@x`, posts: { create: [{ title: 'a' }, { title: 'b' }] } } })
  await writer.$disconnect()
  await waitForReplication()
  const computed = extensions.includes(ALL[1] as object)
  return {
    routed,
    control,
    events,
    user,
    warnings,
    reads: (c: Record<string, any>) => reads(c, user.id, computed),
    done: async () => {
      process.off('warning', onWarning)
      for (const undo of undos) undo?.()
      await Promise.all([routed.$disconnect(), control.$disconnect()])
    },
  }
}

describe('the self-check of Prisma internals (src/prisma/self-check.ts)', () => {
  it('passes on this Prisma Client, with and without extensions; reads then take the router’s own paths (replicas)', async () => {
    const plain = client(topology.primaryUrl)
    expect(await checkInternals(plain)).toEqual({ request: true, chain: true, computed: true, fluent: true, failures: [] })
    expect(await checkInternals(plain.$extends(ALL[0] as never))).toMatchObject({ failures: [] })
    await plain.$disconnect()
    const s = await setUp({ extensions: ALL })
    try {
      expect(await s.reads(s.routed)).toEqual(await s.reads(s.control))
      expect(s.warnings).toEqual([])
      expect(s.events.filter((e) => e.target === 'replica').length).toBeGreaterThanOrEqual(4)
    } finally {
      await s.done()
    }
  })

  const broken: Record<string, Setup & { readonly warning: RegExp; readonly mock?: () => void; readonly onPrimary?: readonly string[] }> = {
    // A Prisma release that puts a field in its requests that `_executeRequest` then needs: the router's are not.
    'the request of a model read': {
      // A query component only: row reads take the fast path's chain, with requests the router builds.
      extensions: [ALL[0] as object],
      warning: /the request of a model read \(`__internalParams`: new nextRelease\)/,
      // On every client of the test (primary, replicas, control): all of that release.
      change: (c) => {
        const own = c as unknown as Record<string, (this: unknown, request: Record<string, unknown>) => unknown>
        const request = own._request!
        const execute = own._executeRequest!
        own._request = function (r) {
          return request.call(this, { ...r, nextRelease: true })
        }
        own._executeRequest = function (r) {
          if (!('nextRelease' in r)) throw new Error('a request without nextRelease')
          return execute.call(this, r)
        }
        return undefined
      },
    },
    // Prisma copying arguments otherwise than the router's copy of that behaviour does.
    'the copy of arguments for a callback': {
      extensions: [ALL[0] as object],
      warning: /the copy of a query's arguments for a callback/,
      mock: () => vi.doMock('../../src/prisma/clone-args.ts', () => ({ cloneArgs: (args: unknown) => args ?? {} })),
    },
    // Computed fields read otherwise than Prisma defines them.
    'computed fields': {
      extensions: ALL,
      warning: /getAllComputedFields\(\)` and `_runtimeDataModel`/,
      mock: () =>
        vi.doMock('../../src/prisma/internals.ts', async (original) => ({
          ...(await original<typeof import('../../src/prisma/internals.ts')>()),
          modelShapesOf: () => ({ computed: () => ({}), relation: () => undefined, isField: () => false, globalOmit: () => undefined }),
        })),
      onPrimary: ['findUnique'],
    },
    // The fluent API's path read otherwise than Prisma sets it.
    'the fluent path': {
      // Replica clients with an extension of their own run reads through their model methods: the router unpacks.
      extensions: ALL,
      extendedReplicas: true,
      warning: /the fluent API’s `dataPath`/,
      mock: () =>
        vi.doMock('../../src/prisma/internals.ts', async (original) => ({
          ...(await original<typeof import('../../src/prisma/internals.ts')>()),
          fluentPath: () => undefined,
        })),
      onPrimary: ['findUnique'],
    },
  }

  // The test has teeth: with the self-check made to pass, the same breaks give other answers (or errors).
  for (const name of ['the request of a model read', 'the copy of arguments for a callback', 'the fluent path']) {
    it(`${name}, broken, without the self-check: another answer than a plain client’s (the break is real)`, async () => {
      vi.resetModules()
      const setup = broken[name]
      if (!setup) throw new Error(name)
      setup.mock?.()
      vi.doMock('../../src/prisma/self-check.ts', async (original) => {
        const real = await original<typeof import('../../src/prisma/self-check.ts')>()
        const pass = { request: true, chain: true, computed: true, fluent: true, failures: [] }
        /** A gate that reports every internal as expected, whatever they are. */
        class InternalsGate {
          readonly result = pass
          run() {
            return Promise.resolve(pass)
          }
        }
        return { ...real, InternalsGate }
      })
      const s = await setUp(setup)
      try {
        const routed = await s.reads(s.routed).catch((error: unknown) => `error: ${String(error)}`)
        expect(routed).not.toEqual(await s.reads(s.control))
      } finally {
        await s.done()
        vi.doUnmock('../../src/prisma/self-check.ts')
      }
    })
  }

  for (const [name, setup] of Object.entries(broken)) {
    const { warning, mock, onPrimary = [] } = setup
    it(`${name}, broken: one warning naming it; Prisma's own path; the same answers as a plain client`, async () => {
      vi.resetModules()
      mock?.()
      const s = await setUp(setup)
      try {
        expect(await s.reads(s.routed)).toEqual(await s.reads(s.control))
        expect(s.warnings.filter((w) => warning.test(w))).toHaveLength(1)
        for (const operation of onPrimary)
          expect(
            s.events.filter((e) => e.operation === operation).every((e) => e.target === 'primary'),
            operation,
          ).toBe(true)
      } finally {
        await s.done()
      }
    })
  }
})
