import { describe, expect, it } from 'vitest'
import { observePrimaryQueries } from '../../src/prisma/engine-queries.ts'
import type { EngineQuery, QueryEngine } from '../../src/prisma/internals.ts'
import { asRouterWork } from '../../src/router-work.ts'

/** A query engine with Prisma 7's three methods (shapes as the canary in internals.db.test.ts records them). */
function fakeEngine() {
  let next = 0
  const engine: QueryEngine = {
    request: (query: EngineQuery) => (query.action === 'fail' ? Promise.reject(new Error('failed')) : Promise.resolve({ data: query.action })),
    requestBatch: (queries: readonly EngineQuery[]) => Promise.resolve(queries.map((q) => ({ data: q.action }))),
    transaction: (action, _headers, info) => Promise.resolve(action === 'start' ? { id: info?.newTxId ?? `tx-${String(++next)}` } : undefined),
  }
  return { _engine: engine }
}

function observed() {
  const client = fakeEngine()
  const log: string[] = []
  const observer = { wrote: () => log.push('wrote'), read: () => log.push('read'), raw: (sql: string) => log.push(`raw ${sql}`) }
  expect(observePrimaryQueries(client, observer)).toBe(true)
  return { engine: client._engine, log, observer }
}

const itx = (id: unknown) => ({ interactiveTransaction: { id } })

describe('observePrimaryQueries', () => {
  it('a query outside a transaction: a write unless a model read (raw queries count as writes), reported when it settles, failed too', async () => {
    const { engine, log } = observed()
    await engine.request({ action: 'findMany' })
    await engine.request({ action: 'aggregate' })
    await engine.request({ action: 'createOne' })
    await engine.request({ action: 'queryRaw' })
    await engine.request({ action: 'executeRaw' })
    await engine.request({ action: 'somethingNew' })
    await engine.request({ action: 'fail' }).catch(() => undefined)
    expect(log).toEqual(['read', 'read', 'wrote', 'wrote', 'wrote', 'wrote', 'wrote'])
  })

  it('a raw statement’s SQL text is told when it settles, in a transaction too; the router’s own is not', async () => {
    const { engine, log } = observed()
    const raw = (action: string, sql: string) => ({ action, query: { arguments: { query: sql, parameters: '[]' }, selection: {} } })
    await engine.request(raw('executeRaw', "SET intervalstyle = 'iso_8601'"))
    const { id } = (await engine.transaction('start', {}, {})) as { id: string }
    await engine.request(raw('queryRaw', 'SELECT 1'), itx(id))
    await asRouterWork(() => engine.request(raw('queryRaw', 'SELECT 2')))
    await engine.transaction('commit', {}, { id })
    expect(log).toEqual(["raw SET intervalstyle = 'iso_8601'", 'wrote', 'raw SELECT 1', 'wrote'])
  })

  it('a batch: a write if any query in it may write', async () => {
    const { engine, log } = observed()
    await engine.requestBatch([{ action: 'findUnique' }, { action: 'findUnique' }])
    await engine.requestBatch([{ action: 'aggregate' }, { action: 'deleteMany' }], { transaction: { kind: 'batch' } })
    expect(log).toEqual(['read', 'wrote'])
  })

  it('an interactive transaction: nothing until its outermost commit; a write if a query in it (or a batch of it) may have written', async () => {
    const { engine, log } = observed()
    const { id } = (await engine.transaction('start', {}, {})) as { id: string }
    await engine.request({ action: 'updateOne' }, itx(id))
    await engine.transaction('start', {}, { newTxId: id })
    await engine.request({ action: 'findMany' }, itx(id))
    await engine.transaction('commit', {}, { id })
    expect(log).toEqual([])
    await engine.transaction('commit', {}, { id })
    expect(log).toEqual(['wrote'])
    const second = (await engine.transaction('start', {}, {})) as { id: string }
    await engine.requestBatch([{ action: 'findMany' }, { action: 'createOne' }], { transaction: { kind: 'itx', options: { id: second.id } } })
    await engine.transaction('commit', {}, { id: second.id })
    expect(log).toEqual(['wrote', 'wrote'])
  })

  it('a transaction that only read is a read; a rolled-back one that wrote is nothing (its writes never happened)', async () => {
    const { engine, log } = observed()
    const reading = (await engine.transaction('start', {}, {})) as { id: string }
    await engine.request({ action: 'findMany' }, itx(reading.id))
    await engine.transaction('commit', {}, { id: reading.id })
    const undone = (await engine.transaction('start', {}, {})) as { id: string }
    await engine.request({ action: 'deleteMany' }, itx(undone.id))
    await engine.transaction('rollback', {}, { id: undone.id })
    expect(log).toEqual(['read'])
  })

  it('the router’s own work is never the application’s write', async () => {
    const { engine, log } = observed()
    await asRouterWork(() => engine.request({ action: 'queryRaw' }))
    const { id } = (await engine.transaction('start', {}, {})) as { id: string }
    await asRouterWork(() => engine.request({ action: 'executeRaw' }, itx(id)))
    await engine.request({ action: 'findMany' }, itx(id))
    await engine.transaction('commit', {}, { id })
    expect(log).toEqual(['read'])
  })

  it('one wrapping per engine, every observer told; an observer that throws never fails the query', async () => {
    const client = fakeEngine()
    const log: string[] = []
    observePrimaryQueries(client, {
      wrote: () => {
        throw new Error('observer')
      },
      read: () => undefined,
      raw: () => undefined,
    })
    const request = client._engine.request
    observePrimaryQueries(client, { wrote: () => log.push('second'), read: () => undefined, raw: () => undefined })
    expect(client._engine.request).toBe(request)
    await expect(client._engine.request({ action: 'createOne' })).resolves.toEqual({ data: 'createOne' })
    expect(log).toEqual(['second'])
  })

  it('false for a client without such an engine', () => {
    const none = { wrote: () => undefined, read: () => undefined, raw: () => undefined }
    expect(observePrimaryQueries({}, none)).toBe(false)
    expect(observePrimaryQueries({ _engine: { request: () => undefined } }, none)).toBe(false)
  })
})
