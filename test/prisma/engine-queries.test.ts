import { describe, expect, it } from 'vitest'
import { observePrimaryQueries } from '../../src/prisma/engine-queries.ts'
import type { EngineQuery, HandledRequest, QueryEngine, RequestHandler } from '../../src/prisma/internals.ts'
import { asRouterWork } from '../../src/router-work.ts'
import { runInScope, currentScope } from '../../src/scope.ts'

/** A client's request handler and engine, with Prisma 7's methods (shapes as internals.db.test.ts records them). */
function fakeClient() {
  let next = 0
  const engine: QueryEngine = {
    request: () => Promise.resolve(undefined),
    requestBatch: () => Promise.resolve([]),
    transaction: (action, _headers, info) => Promise.resolve(action === 'start' ? { id: info?.newTxId ?? `tx-${String(++next)}` } : undefined),
  }
  const handler: RequestHandler = {
    request: (sent: HandledRequest) => (sent.protocolQuery?.action === 'fail' ? Promise.reject(new Error('failed')) : Promise.resolve({ data: sent.protocolQuery?.action })),
  }
  return { _engine: engine, _requestHandler: handler }
}

function observed() {
  const client = fakeClient()
  const log: string[] = []
  const observer = { wrote: () => log.push('wrote'), read: () => log.push('read'), raw: (sql: string) => log.push(`raw ${sql}`) }
  expect(observePrimaryQueries(client, observer)).toBe(true)
  const send = (query: EngineQuery, transaction?: HandledRequest['transaction']) => client._requestHandler.request({ protocolQuery: query, transaction })
  return { engine: client._engine, send, log }
}

const itx = (id: unknown) => ({ kind: 'itx', id })
const batch = { kind: 'batch', id: 1 }

describe('observePrimaryQueries', () => {
  it('a query outside an interactive transaction: a write unless a model read (raw queries count as writes), told when it settles, failed too', async () => {
    const { send, log } = observed()
    await send({ action: 'findMany' })
    await send({ action: 'aggregate' })
    await send({ action: 'createOne' })
    await send({ action: 'queryRaw' })
    await send({ action: 'executeRaw' })
    await send({ action: 'somethingNew' })
    await send({ action: 'fail' }).catch(() => undefined)
    await send({ action: 'updateOne' }, batch)
    expect(log).toEqual(['read', 'read', 'wrote', 'wrote', 'wrote', 'wrote', 'wrote', 'wrote'])
  })

  it('each query counts in the async context of its sender (the scope that sent it), not of the code that batches them', async () => {
    const client = fakeClient()
    const scopes: unknown[] = []
    observePrimaryQueries(client, { wrote: () => scopes.push(currentScope()), read: () => scopes.push(currentScope()), raw: () => undefined })
    let a: unknown
    let b: unknown
    await Promise.all([
      runInScope(async () => {
        a = currentScope()
        await client._requestHandler.request({ protocolQuery: { action: 'findUnique' } })
      }),
      runInScope(async () => {
        b = currentScope()
        await client._requestHandler.request({ protocolQuery: { action: 'updateOne' }, transaction: batch })
      }),
    ])
    expect(scopes).toEqual([a, b])
  })

  it('a raw statement’s SQL text is told when it settles, in a transaction too; the router’s own is not', async () => {
    const { engine, send, log } = observed()
    const raw = (action: string, sql: string) => ({ action, query: { arguments: { query: sql, parameters: '[]' }, selection: {} } })
    await send(raw('executeRaw', "SET intervalstyle = 'iso_8601'"))
    const { id } = (await engine.transaction('start', {}, {})) as { id: string }
    await send(raw('queryRaw', 'SELECT 1'), itx(id))
    await asRouterWork(() => send(raw('queryRaw', 'SELECT 2')))
    await engine.transaction('commit', {}, { id })
    expect(log).toEqual(["raw SET intervalstyle = 'iso_8601'", 'wrote', 'raw SELECT 1', 'wrote'])
  })

  it('an interactive transaction: nothing until its outermost commit; a write if a query in it may have written', async () => {
    const { engine, send, log } = observed()
    const { id } = (await engine.transaction('start', {}, {})) as { id: string }
    await send({ action: 'updateOne' }, itx(id))
    await engine.transaction('start', {}, { newTxId: id })
    await send({ action: 'findMany' }, itx(id))
    await engine.transaction('commit', {}, { id })
    expect(log).toEqual([])
    await engine.transaction('commit', {}, { id })
    expect(log).toEqual(['wrote'])
  })

  it('a transaction that only read is a read; a rolled-back one that wrote is nothing; a batch’s own transaction is counted per query', async () => {
    const { engine, send, log } = observed()
    const reading = (await engine.transaction('start', {}, {})) as { id: string }
    await send({ action: 'findMany' }, itx(reading.id))
    await engine.transaction('commit', {}, { id: reading.id })
    const undone = (await engine.transaction('start', {}, {})) as { id: string }
    await send({ action: 'deleteMany' }, itx(undone.id))
    await engine.transaction('rollback', {}, { id: undone.id })
    expect(log).toEqual(['read'])
    // A batch: Prisma's engine starts and commits a transaction of its own, with no query of an interactive one.
    const own = (await engine.transaction('start', {}, {})) as { id: string }
    await engine.transaction('commit', {}, { id: own.id })
    expect(log).toEqual(['read'])
  })

  it('the router’s own work is never the application’s write', async () => {
    const { engine, send, log } = observed()
    await asRouterWork(() => send({ action: 'queryRaw' }))
    const { id } = (await engine.transaction('start', {}, {})) as { id: string }
    await asRouterWork(() => send({ action: 'executeRaw' }, itx(id)))
    await send({ action: 'findMany' }, itx(id))
    await engine.transaction('commit', {}, { id })
    expect(log).toEqual(['read'])
  })

  it('hands back the handler’s own promise; one wrapping per engine, every observer told; an observer that throws never fails the query', async () => {
    const client = fakeClient()
    const log: string[] = []
    const pending = Promise.resolve({ data: 'x' })
    const inner = client._requestHandler.request
    client._requestHandler.request = () => pending
    observePrimaryQueries(client, {
      wrote: () => {
        throw new Error('observer')
      },
      read: () => undefined,
      raw: () => undefined,
    })
    expect(client._requestHandler.request({ protocolQuery: { action: 'findMany' } })).toBe(pending)
    client._requestHandler.request = inner
    const other = fakeClient()
    observePrimaryQueries(other, { wrote: () => log.push('first'), read: () => undefined, raw: () => undefined })
    const wrapped = other._requestHandler.request
    observePrimaryQueries(other, { wrote: () => log.push('second'), read: () => undefined, raw: () => undefined })
    expect(other._requestHandler.request).toBe(wrapped)
    await expect(other._requestHandler.request({ protocolQuery: { action: 'createOne' } })).resolves.toEqual({ data: 'createOne' })
    expect(log).toEqual(['first', 'second'])
  })

  it('false for a client without a request handler or engine', () => {
    const none = { wrote: () => undefined, read: () => undefined, raw: () => undefined }
    expect(observePrimaryQueries({}, none)).toBe(false)
    expect(observePrimaryQueries({ _engine: fakeClient()._engine }, none)).toBe(false)
    expect(observePrimaryQueries({ _requestHandler: fakeClient()._requestHandler }, none)).toBe(false)
  })
})
