/**
 * The test kit's fault-injecting TCP proxy (src/testing/fault-proxy.ts) in front of the real primary, driven
 * through node-postgres: what each fault does to a connection, asserted as conditions (bytes held, sessions the
 * server sees, errors the client gets) and lower bounds of time, never upper ones.
 */
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { startFaultProxy, type FaultProxy } from '../../src/testing/fault-proxy.ts'
import { topology, until } from '../support/db.ts'

const port = Number(new URL(topology.primaryUrl).port)
const proxies: FaultProxy[] = []
const clients: pg.Client[] = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)))
})
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()))
})

async function proxied(name: string): Promise<{ proxy: FaultProxy; client: pg.Client }> {
  const proxy = await startFaultProxy({ target: { port } })
  proxies.push(proxy)
  const url = new URL(proxy.url(topology.primaryUrl))
  url.searchParams.set('application_name', name)
  const client = new pg.Client({ connectionString: url.toString() })
  client.on('error', () => undefined)
  clients.push(client)
  await client.connect()
  return { proxy, client }
}

/** Sessions the server sees with `application_name` = `name`. */
async function sessions(name: string): Promise<number> {
  const observer = new pg.Client({ connectionString: topology.primaryUrl })
  await observer.connect()
  try {
    const { rows } = await observer.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [name])
    return rows[0]?.n ?? 0
  } finally {
    await observer.end()
  }
}

describe('the fault proxy', () => {
  it('forwards a connection unchanged; url() points at it; connections counts it', async () => {
    const { proxy, client } = await proxied('fp-plain')
    expect(new URL(proxy.url(topology.primaryUrl)).port).toBe(String(proxy.port))
    const { rows } = await client.query<{ n: number }>('SELECT 41 + 1 AS n')
    expect(rows).toEqual([{ n: 42 }])
    expect(proxy.connections).toBe(1)
    expect(await sessions('fp-plain')).toBe(1)
  })

  it('latency: a round trip takes at least twice the latency', async () => {
    const { proxy, client } = await proxied('fp-latency')
    proxy.setConditions({ latencyMs: 40, jitterMs: 10 })
    const started = performance.now()
    await client.query('SELECT 1')
    expect(performance.now() - started).toBeGreaterThanOrEqual(80)
  })

  it('a bandwidth cap: 100 kB at 200 kB/s take at least half a second', async () => {
    const { proxy, client } = await proxied('fp-bandwidth')
    proxy.setConditions({ bytesPerSecond: 200_000 })
    const started = performance.now()
    const { rows } = await client.query<{ s: string }>("SELECT repeat('x', 100000) AS s")
    expect(rows[0]?.s.length).toBe(100_000)
    expect(performance.now() - started).toBeGreaterThanOrEqual(450)
  })

  it('a partition holds every byte (no error, no answer) and delivers them in order once healed', async () => {
    const { proxy, client } = await proxied('fp-partition')
    proxy.partition()
    let settled = false
    const answer = client.query<{ n: number }>('SELECT 7 AS n').finally(() => (settled = true))
    await until('the query held by the partition', () => proxy.pendingBytes > 0)
    // The server never got it: its session is idle, and the client has no answer.
    expect(settled).toBe(false)
    expect(proxy.connections).toBe(1)
    proxy.heal()
    expect((await answer).rows).toEqual([{ n: 7 }])
  })

  it('half-open: the server’s side ends (the server sees the session go), the client’s stays open and hears nothing', async () => {
    const { proxy, client } = await proxied('fp-half-open')
    proxy.halfOpen()
    await until('the server saw the session end', async () => (await sessions('fp-half-open')) === 0)
    let settled = false
    void client.query('SELECT 1').then(
      () => (settled = true),
      () => (settled = true),
    )
    // A round trip on another connection: the half-open one would have answered or failed by now, were it alive.
    await sessions('fp-half-open')
    expect(settled).toBe(false)
    expect(proxy.connections).toBe(1)
  })

  it('reset: the client’s connection fails with ECONNRESET at once', async () => {
    const { proxy, client } = await proxied('fp-reset')
    const failed = new Promise<Error>((resolve) => client.once('error', resolve))
    proxy.reset()
    expect(((await failed) as NodeJS.ErrnoException).code).toBe('ECONNRESET')
    await until('the connection gone', () => proxy.connections === 0)
  })

  it('resetAfter: a result cut in the middle fails the query; a small one before it passes', async () => {
    const { proxy, client } = await proxied('fp-reset-after')
    proxy.resetAfter(4096)
    expect((await client.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }])
    await expect(client.query("SELECT repeat('y', 100000) AS s")).rejects.toThrow(/ECONNRESET|terminated|Connection/i)
  })

  it('refuses bad settings with exact TypeErrors', async () => {
    await expect(startFaultProxy({ target: { port: 0 } })).rejects.toThrow(new TypeError('Expected `target.port` to be a port number, got `0` (number)'))
    const { proxy } = await proxied('fp-options')
    expect(() => {
      proxy.setConditions({ latencyMs: -1 })
    }).toThrow(new TypeError('Expected `latencyMs` to be a number >= 0, got `-1` (number)'))
    expect(() => {
      proxy.setConditions({ bytesPerSecond: 0 })
    }).toThrow(new TypeError('Expected `bytesPerSecond` to be a number > 0, got `0` (number)'))
    expect(() => {
      proxy.resetAfter(1.5)
    }).toThrow(new TypeError('Expected `bytes` to be an integer >= 0, got `1.5` (number)'))
  })
})
