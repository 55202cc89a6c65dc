/**
 * CANARY for src/prisma/internals.ts, the only module that relies on Prisma Client internals.
 * If a Prisma release changes any of this, these tests fail loudly and name what changed.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { Prisma } from '@prisma/client/extension'
import { afterAll, describe, expect, it } from 'vitest'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient as MariaClient } from '../../generated/mysql/client.ts'
import { PrismaClient } from '../../generated/prisma/client.ts'
import { makeTypedQueryFactory } from '@prisma/client/runtime/client'
import pg from 'pg'
import {
  bareTransactionClient,
  engineOf,
  requestHandlerOf,
  executeRequest,
  executesRequests,
  extensionsOf,
  requestOf,
  fluentPath,
  hasNoExtensions,
  modelShapesOf,
  isInTransaction,
  isTransactionClient,
  modelRequest,
  pgSettingsOf,
  queryCallbacksOf,
  rawSqlText,
  runRequest,
  runsRequests,
  recordsCallSites,
  unpackFluent,
  usesMariadbAdapter,
  withTransactionWrapper,
} from '../../src/prisma/internals.ts'
import { DISABLED_CALL_SITE } from '../../src/prisma/call-site.ts'
import { newClient, topology } from '../support/db.ts'
import { adapterPgVersion, atLeast, clientVersion } from '../support/versions.ts'

interface Seen {
  operation: string
  internal: unknown
  inTransaction: boolean
  path: readonly string[] | undefined
}

const seen: Seen[] = []
const base = newClient(topology.primaryUrl)
const client = base.$extends(
  Prisma.defineExtension({
    query: {
      $allOperations(params) {
        seen.push({
          operation: params.operation,
          internal: (params as { __internalParams?: unknown }).__internalParams,
          inTransaction: isInTransaction(params),
          path: fluentPath(params),
        })
        return params.query(params.args)
      },
    },
  }),
)
afterAll(() => base.$disconnect())

describe('Prisma internals canary (@prisma/client ' + clientVersion + ')', () => {
  it('passes __internalParams to query extensions, without `transaction` outside transactions', async () => {
    await client.user.findMany({ take: 1 })
    const last = seen.at(-1)
    expect(typeof last?.internal, '__internalParams is no longer passed to query extensions').toBe('object')
    expect(last?.inTransaction).toBe(false)
    expect(last?.path).toBeUndefined()
  })

  it('sets __internalParams.transaction for every query of a batch transaction', async () => {
    const before = seen.length
    await client.$transaction([client.user.count(), client.note.findMany({ take: 1 })])
    expect(seen.slice(before).map((s) => s.inTransaction)).toEqual([true, true])
  })

  it('sets __internalParams.transaction for every query of an interactive transaction, raw included', async () => {
    const before = seen.length
    await client.$transaction(async (tx) => {
      await tx.user.count()
      await tx.$queryRaw`SELECT 1`
    })
    expect(seen.slice(before).map((s) => [s.operation, s.inTransaction])).toEqual([
      ['count', true],
      ['$queryRaw', true],
    ])
  })

  it('exposes the fluent path as __internalParams.dataPath = [select, relation, …]', async () => {
    const user = await base.user.create({ data: { email: `canary-${String(Date.now())}@x`, posts: { create: { title: 't' } } } })
    await client.user.findUnique({ where: { id: user.id } }).posts()
    expect(seen.at(-1)?.path).toEqual(['posts'])
    expect((seen.at(-1)?.internal as { dataPath?: unknown }).dataPath).toEqual(['select', 'posts'])
    await client.post
      .findFirst({ where: { authorId: user.id } })
      .author()
      .posts()
    expect(seen.at(-1)?.path).toEqual(['author', 'posts'])
  })

  it('unpacks like the client does: along the path, null stays null', () => {
    expect(unpackFluent({ author: { posts: [1] } }, ['author', 'posts'])).toEqual([1])
    expect(unpackFluent(null, ['posts'])).toBeNull()
    expect(unpackFluent({ author: null }, ['author', 'posts'])).toBeNull()
  })

  it('recognises an interactive-transaction client, and not a plain or extended one', async () => {
    expect(isTransactionClient(base)).toBe(false)
    expect(isTransactionClient(client)).toBe(false)
    await client.$transaction(async (tx) => {
      await tx.user.count()
      expect(isTransactionClient(tx)).toBe(true)
      // The signs Prisma gives: the transaction scope symbol (from 7.5.0), and no `$extends` on a transaction
      // client (every 7.x). If one of these fails, check isTransactionClient().
      const scopeSymbol = (tx as unknown as Record<symbol, unknown>)[Symbol.for('prisma.client.transaction.scope_context')]
      if (atLeast(clientVersion, '7.5.0')) expect(scopeSymbol).toBeDefined()
      expect(typeof (tx as unknown as { $extends?: unknown }).$extends).not.toBe('function')
    })
  })

  it('tells a client without extensions (fast reads) from an extended one (every extension honoured)', () => {
    expect(hasNoExtensions(base), 'a PrismaClient no longer exposes `_extensions.isEmpty()`: reads lose the fast path').toBe(true)
    expect(hasNoExtensions(client)).toBe(false)
    expect(hasNoExtensions(base.$extends({}))).toBe(false)
    expect(hasNoExtensions({})).toBe(false)
  })

  it('lists the extensions applied to a client, first applied first, function forms included (extensionsOf)', () => {
    const first = { name: 'first', result: { user: { tag: { needs: { email: true }, compute: () => 'x' } } } }
    const second = { name: 'second', query: { $allOperations: ({ args, query }: { args: unknown; query: (a: unknown) => unknown }) => query(args) } }
    const third = { name: 'third', client: { $hello: () => 'hi' } }
    const extended = base
      .$extends(first)
      .$extends(Prisma.defineExtension((c) => c.$extends(second)))
      .$extends(third)
    expect(extensionsOf(base), 'a PrismaClient no longer keeps its extensions as `_extensions.head.extension/previous`').toEqual([])
    const listed = extensionsOf(extended)
    expect(listed?.map((e) => e.name)).toEqual(['first', 'second', 'third'])
    expect(listed?.[0], 'the very object given to $extends').toBe(first)
    expect(extensionsOf({})).toBeUndefined()
  })

  it('exposes computed fields with their needs resolved, and relation targets (modelShapesOf)', () => {
    const extended = base
      .$extends({ result: { user: { tag: { needs: { email: true }, compute: (u) => u.email } } } })
      .$extends({ result: { user: { both: { needs: { tag: true, name: true }, compute: (u) => `${u.tag}${String(u.name)}` } } } })
    const shapes = modelShapesOf(extended)
    expect(shapes, 'a PrismaClient no longer exposes `_extensions.getAllComputedFields` and `_runtimeDataModel`: computed fields fail on replicas').toBeDefined()
    expect(shapes?.computed('User')).toMatchObject({ tag: { name: 'tag', needs: ['email'] }, both: { name: 'both', needs: ['email', 'name'] } })
    expect(shapes?.computed('Post')).toBeUndefined()
    expect(shapes?.relation('User', 'posts')).toBe('Post')
    expect(shapes?.relation('Post', 'author')).toBe('User')
    expect(shapes?.relation('User', 'email')).toBeUndefined()
    expect(shapes?.isField('User', 'email')).toBe(true)
    expect(shapes?.isField('User', 'posts')).toBe(true)
    expect(shapes?.isField('User', 'tag')).toBe(false)
    const omitting = new PrismaClient({ adapter: new PrismaPg({ connectionString: topology.primaryUrl }), omit: { user: { email: true } } })
    expect(modelShapesOf(omitting.$extends({}))?.globalOmit('User'), 'a PrismaClient no longer keeps its omit setting as `_globalOmit`').toEqual({ email: true })
    expect(shapes?.globalOmit('User')).toBeUndefined()
    expect(modelShapesOf({})).toBeUndefined()
  })

  it("runs a query extension's request on another client without extensions: unpacked, fluent and count included (executeRequest)", async () => {
    const other = newClient(topology.primaryUrl)
    expect(executesRequests(other), 'a PrismaClient no longer has `_executeRequest`: replica reads take a second pipeline').toBe(true)
    expect(executesRequests(other.$extends({}))).toBe(false)
    const elsewhere = newClient(topology.primaryUrl).$extends({
      query: {
        $allModels: {
          $allOperations({ args, ...params }) {
            return executeRequest(other, requestOf(params), args)
          },
        },
      },
    })
    try {
      const user = await base.user.create({ data: { email: `exec-${String(Date.now())}@x`, posts: { create: [{ title: 'p1' }] } } })
      expect(await elsewhere.user.findUnique({ where: { id: user.id } })).toEqual(user)
      expect((await elsewhere.user.findUnique({ where: { id: user.id } }).posts())?.map((p) => p.title)).toEqual(['p1'])
      expect(await elsewhere.post.count({ where: { authorId: user.id } })).toBe(1)
      await expect(elsewhere.user.findUniqueOrThrow({ where: { id: -1 } })).rejects.toMatchObject({ code: 'P2025' })
    } finally {
      await Promise.all([other.$disconnect(), elsewhere.$disconnect()])
    }
  })

  it('lists the query callbacks of a model operation, first applied first (queryCallbacksOf: the fast path runs them)', () => {
    const first = () => Promise.resolve('first')
    const second = () => Promise.resolve('second')
    const forPosts = () => Promise.resolve('posts')
    const extended = base.$extends({ query: { $allModels: { findMany: first } } }).$extends({ query: { $allOperations: second, post: { findMany: forPosts } } })
    expect(queryCallbacksOf(extended, 'user', 'findMany'), 'Prisma no longer exposes `_extensions.getAllQueryCallbacks`').toEqual([first, second])
    expect(queryCallbacksOf(extended, 'post', 'findMany')).toEqual([first, forPosts, second])
    expect(queryCallbacksOf(base, 'user', 'findMany')).toEqual([])
    expect(queryCallbacksOf({}, 'user', 'findMany')).toBeUndefined()
  })

  it("builds a model read's request as Prisma does (modelRequest), and runs it as the chain's last step, without the callbacks (runRequest)", async () => {
    const args = { where: { id: -1 }, take: 1 }
    seen.length = 0
    await client.user.findMany(args)
    const prisma = seen[0]?.internal as Record<string, unknown>
    const ours = modelRequest('User', 'user', 'findMany', args, DISABLED_CALL_SITE) as unknown as Record<string, unknown>
    // Ours has the call site the fast path records (src/prisma/call-site.ts, compared in test/prisma/call-site.db.test.ts);
    // the fetch decorator is what `query` composed into Prisma's request after the callback (none + none: ours keeps none).
    const set = new Set(['callsite', 'customDataProxyFetch'])
    for (const [key, value] of Object.entries(ours)) if (!set.has(key)) expect(prisma[key], `Prisma's request for user.findMany has another \`${key}\``).toEqual(value)
    for (const key of set) expect(prisma).toHaveProperty(key)
    // Prisma adds only the tracing context of the call site.
    expect(Object.keys(prisma).filter((key) => !(key in ours))).toEqual(['otelParentCtx'])
    expect(runsRequests(client), 'a PrismaClient no longer has `_executeRequest`').toBe(true)
    seen.length = 0
    const user = await base.user.create({ data: { email: `run-${String(Date.now())}@x` } })
    expect(await runRequest(client, modelRequest('User', 'user', 'findUnique', { where: { id: user.id } }, DISABLED_CALL_SITE))).toEqual(user)
    expect(seen).toEqual([])
  })

  it('records a call site (an Error) for each query its delegates create unless its error format is `minimal`', () => {
    /** Errors constructed while `create` runs (Prisma constructs its call-site Error with the global `Error`). */
    const errorsWhile = (create: () => unknown): number => {
      const Original = globalThis.Error
      let count = 0
      globalThis.Error = class extends Original {
        constructor(...args: ConstructorParameters<ErrorConstructor>) {
          super(...args)
          count++
        }
      } as ErrorConstructor
      try {
        create() // lazy: builds the query (and its call site) without running it
      } finally {
        globalThis.Error = Original
      }
      return count
    }
    const withFormat = (errorFormat: 'minimal' | 'colorless') => new PrismaClient({ adapter: new PrismaPg({ connectionString: topology.primaryUrl }), errorFormat })
    const minimal = withFormat('minimal')
    const colorless = withFormat('colorless')
    expect(recordsCallSites(minimal), 'a PrismaClient no longer exposes `_errorFormat`').toBe(false)
    expect(
      errorsWhile(() => minimal.user.findMany({ take: 1 })),
      'Prisma now records call sites in `minimal` format too',
    ).toBe(0)
    expect(recordsCallSites(colorless)).toBe(true)
    expect(errorsWhile(() => colorless.user.findMany({ take: 1 }))).toBeGreaterThan(0)
    expect(recordsCallSites({}), 'unknown: suppress as if it did').toBe(true)
  })
})

describe('which driver adapter a client was built with (usesMariadbAdapter: the router picks the engine by it)', () => {
  it('@prisma/adapter-mariadb, from the client and from an extended client; not adapter-pg', () => {
    // Never connects: the URL is never tried.
    const maria = new MariaClient({ adapter: new PrismaMariaDb('mysql://nobody@127.0.0.1:1/none') })
    expect([usesMariadbAdapter(maria), usesMariadbAdapter(maria.$extends({}))]).toEqual([true, true])
    expect(usesMariadbAdapter(newClient(topology.primaryUrl))).toBe(false)
  })
})

describe('the driver adapter a client was built with (pgSettingsOf: the router opens its own connections with it)', () => {
  const url = topology.primaryUrl

  it('reads the settings of new PrismaPg(url | config | pool), from the client and from an extended client', async () => {
    // `new PrismaPg(url)` (a string) exists from @prisma/adapter-pg 7.6.0; before, the same URL goes in `{ connectionString }`.
    const fromUrl = new PrismaClient({ adapter: atLeast(adapterPgVersion, '7.6.0') ? new PrismaPg(url) : new PrismaPg({ connectionString: url }) })
    const fromConfig = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 3, idleTimeoutMillis: 500, statement_timeout: 5000 }) })
    const pool = new pg.Pool({ connectionString: url, max: 2, keepAlive: true })
    const fromPool = new PrismaClient({ adapter: new PrismaPg(pool) })
    try {
      expect(pgSettingsOf(fromUrl)).toEqual({ connectionString: url })
      expect(pgSettingsOf(fromUrl.$extends({}))).toEqual({ connectionString: url })
      // Pool-only settings are left out; connection settings are kept.
      expect(pgSettingsOf(fromConfig)).toEqual({ connectionString: url, statement_timeout: 5000 })
      expect(pgSettingsOf(fromPool)).toMatchObject({ connectionString: url, keepAlive: true })
      expect(pgSettingsOf(fromPool)).not.toHaveProperty('max')
      // node-postgres keeps a pool's password non-enumerable: read by name, as node-postgres reads it.
      const withPassword = new pg.Pool({ host: '127.0.0.1', user: 'u', password: 'pw-1', database: 'd', max: 1 })
      expect(Object.keys(withPassword.options)).not.toContain('password')
      expect(pgSettingsOf(new PrismaClient({ adapter: new PrismaPg(withPassword) }))).toEqual({ host: '127.0.0.1', user: 'u', password: 'pw-1', database: 'd' })
      await withPassword.end()
      // And they connect: the same server as the client's own queries.
      const own = new pg.Client(pgSettingsOf(fromConfig))
      await own.connect()
      const [ownPort, clientPort] = await Promise.all([
        own.query<{ port: number }>('SELECT inet_server_port() AS port').then((r) => r.rows[0]?.port),
        fromConfig.$queryRawUnsafe<{ port: number }[]>('SELECT inet_server_port() AS port').then((r) => r[0]?.port),
      ])
      await own.end()
      expect(ownPort).toBe(clientPort)
    } finally {
      await Promise.all([fromUrl.$disconnect(), fromConfig.$disconnect(), fromPool.$disconnect()])
      await pool.end()
    }
  })

  it('is undefined for another adapter or something that is not a client', () => {
    const other = { _engineConfig: { adapter: { adapterName: '@prisma/adapter-neon', config: { connectionString: url } } } }
    expect(pgSettingsOf(other)).toBeUndefined()
    expect(pgSettingsOf({})).toBeUndefined()
    expect(pgSettingsOf(null)).toBeUndefined()
  })
})

describe('$transaction through a client extension (withTransactionWrapper)', () => {
  it('replaces Prisma’s own for the extended client, and the transaction client keeps every extension', async () => {
    const calls: string[] = []
    const inTransaction: string[] = []
    const routed = base
      .$extends({
        query: {
          $allOperations(params) {
            if (isInTransaction(params)) inTransaction.push(`${String(params.model)}.${params.operation}`)
            return params.query(params.args)
          },
        },
      })
      .$extends({
        client: withTransactionWrapper(base, {}, async (run) => {
          calls.push('begin')
          try {
            return await run()
          } finally {
            calls.push('settled')
          }
        }),
      })
    const count = await routed.$transaction(async (tx) => {
      calls.push('callback')
      return tx.user.count()
    })
    expect(count).toBeTypeOf('number')
    await routed.$transaction([routed.user.count()])
    expect(calls).toEqual(['begin', 'callback', 'settled', 'begin', 'settled'])
    expect(inTransaction).toEqual(['User.count', 'User.count'])
  })
})

describe('the SQL text of a raw read, as a query extension receives it (rawSqlText: raw: classify parses it)', () => {
  it('$queryRaw (a Sql object: strings between values), $queryRawUnsafe ([sql, ...values]), $queryRawTyped (TypedSql)', async () => {
    const seen: [string, string | undefined][] = []
    const client = newClient(topology.primaryUrl).$extends({
      query: {
        $allOperations({ operation, args, query }) {
          seen.push([operation, rawSqlText(operation, args)])
          return query(args)
        },
      },
    })
    try {
      await client.$queryRaw`SELECT ${1}::int AS a, ${'x'}::text AS b`
      await client.$queryRawUnsafe('SELECT $1::int AS a', 5)
      await client.$queryRawTyped(makeTypedQueryFactory('SELECT $1::int AS a')(7) as never)
      await client.$executeRawUnsafe('SELECT 1')
    } finally {
      await client.$disconnect()
    }
    expect(seen).toEqual([
      ['$queryRaw', 'SELECT $1::int AS a, $2::text AS b'],
      ['$queryRawUnsafe', 'SELECT $1::int AS a'],
      ['$queryRawTyped', 'SELECT $1::int AS a'],
      ['$executeRawUnsafe', undefined],
    ])
  })
})

describe('the query engine (engineOf: the router observes every query the primary runs, src/prisma/engine-queries.ts)', () => {
  it('one engine per client and every client $extends made of it; its request, requestBatch and transaction see each kind of query', async () => {
    const plain = newClient(topology.primaryUrl)
    const extended = plain.$extends({ model: { note: { extra: () => 1 } } })
    expect(engineOf(plain)).toBeDefined()
    expect(engineOf(extended)).toBe(engineOf(plain))
    expect(engineOf({})).toBeUndefined()
    const calls: string[] = []
    const engine = engineOf(plain)
    if (!engine) throw new Error('no engine')
    const { request, requestBatch, transaction } = engine
    engine.request = function (query, options) {
      calls.push(`request ${String(query.action)}${options?.interactiveTransaction?.id === undefined ? '' : ' itx'}`)
      return request.call(this, query, options)
    }
    engine.requestBatch = function (queries, options) {
      calls.push(`batch ${queries.map((q) => String(q.action)).join(',')} ${String(options?.transaction?.kind)}${options?.transaction?.options?.id === undefined ? '' : ' id'}`)
      return requestBatch.call(this, queries, options)
    }
    engine.transaction = async function (action, headers, info) {
      const result = await transaction.call(this, action, headers, info)
      const id = (result as { id?: unknown } | undefined)?.id
      calls.push(
        `transaction ${action}${info?.newTxId === undefined ? '' : ' nested'}${action === 'start' ? (typeof id === 'string' ? ' -> id' : ' -> ?') : typeof info?.id === 'string' ? ' id' : ' ?'}`,
      )
      return result
    }
    try {
      const note = await extended.note.create({ data: { title: 'engine canary' } })
      await extended.note.findMany({ take: 1 })
      await extended.$queryRawUnsafe('SELECT 1 AS one')
      // Nested transactions (savepoints) where this release has them (7.0.0 has none).
      const has = { nested: false }
      await extended.$transaction(async (tx) => {
        await tx.note.update({ where: { id: note.id }, data: { title: 'x' } })
        const nesting = tx as unknown as { $transaction?: (fn: (t: typeof tx) => Promise<unknown>) => Promise<unknown> }
        if (typeof nesting.$transaction === 'function') {
          has.nested = true
          await nesting.$transaction(async (inner) => await inner.note.count())
        }
      })
      await extended.$transaction([extended.note.count(), extended.note.deleteMany({ where: { id: note.id } })])
      await Promise.all([extended.note.findUnique({ where: { id: 1 } }), extended.note.findUnique({ where: { id: 2 } })])
      expect(calls).toEqual([
        'request createOne',
        'request findMany',
        'request queryRaw',
        'transaction start -> id',
        'request updateOne itx',
        ...(has.nested ? ['transaction start nested -> id', 'request aggregate itx', 'transaction commit id'] : []),
        'transaction commit id',
        // A batch transaction starts and commits one of its own inside requestBatch (logged here when done).
        'batch aggregate,deleteMany batch',
        'transaction start -> id',
        'transaction commit id',
        'batch findUnique,findUnique undefined',
      ])
    } finally {
      Object.assign(engine, { request, requestBatch, transaction })
      await plain.$disconnect()
    }
  })
})

describe('the bare client of an interactive transaction (bareTransactionClient: the router’s own statements in a read-only transaction)', () => {
  it('is reached through $parent from a transaction client of an extended client: the same transaction, no extension runs', async () => {
    const plain = newClient(topology.primaryUrl)
    const log: string[] = []
    const logging = (name: string) =>
      Prisma.defineExtension({
        query: {
          $allOperations({ operation, args, query }) {
            log.push(`${name} ${operation}`)
            return query(args)
          },
        },
      })
    const extended = plain.$extends(logging('a')).$extends(logging('b'))
    try {
      const [inTx, inBare] = await extended.$transaction(async (tx) => {
        const bare = bareTransactionClient(tx) as typeof plain | undefined
        expect(bare).toBeDefined()
        expect(isTransactionClient(bare)).toBe(true)
        const txid = (client: { $queryRawUnsafe: typeof plain.$queryRawUnsafe }) =>
          client.$queryRawUnsafe<{ id: string }[]>('SELECT txid_current()::text AS id').then((r) => r[0]?.id)
        return [await txid(tx), await txid(bare as typeof plain)]
      })
      expect(inBare).toBe(inTx)
      expect(log).toEqual(['a $queryRawUnsafe', 'b $queryRawUnsafe'])
      // Not a transaction client, or one it cannot walk: undefined.
      expect(bareTransactionClient(extended)).toBeUndefined()
      expect(bareTransactionClient({})).toBeUndefined()
    } finally {
      await plain.$disconnect()
    }
  })
})

describe('the request handler (requestHandlerOf: each query, in its sender’s async context, before the DataLoader batches)', () => {
  it('one handler for a client and its extended clients; each query with its protocol action and transaction kind, in the context of its caller', async () => {
    const plain = newClient(topology.primaryUrl)
    const extended = plain.$extends({ model: { note: { extra: () => 1 } } })
    const handler = requestHandlerOf(plain)
    if (!handler) throw new Error('no request handler')
    expect(requestHandlerOf(extended)).toBe(handler)
    expect(requestHandlerOf({})).toBeUndefined()
    const seen: string[] = []
    const { request } = handler
    const storage = new AsyncLocalStorage<string>()
    handler.request = function (sent) {
      seen.push(`${String(sent.protocolQuery?.action)} ${String(sent.transaction?.kind)} ${String(storage.getStore())}`)
      return request.call(this, sent)
    }
    try {
      // Two findUniques of two contexts, which the DataLoader sends as one batch.
      await Promise.all([
        storage.run('a', () => Promise.resolve(extended.note.findUnique({ where: { id: 1 } }))),
        storage.run('b', () => Promise.resolve(extended.note.findUnique({ where: { id: 2 } }))),
      ])
      await storage.run('c', () => extended.$transaction([extended.note.count()]))
      await storage.run('d', () => extended.$transaction(async (tx) => await tx.note.count()))
      expect(seen).toEqual(['findUnique undefined a', 'findUnique undefined b', 'aggregate batch c', 'aggregate itx d'])
    } finally {
      handler.request = request
      await plain.$disconnect()
    }
  })
})
