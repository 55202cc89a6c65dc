import { describe, expect, it } from 'vitest'
import { HealthMonitor } from '../src/health-monitor.ts'
import { resolveOptions } from '../src/options.ts'
import { Router } from '../src/router.ts'
import type { Row, ServerLink } from '../src/server-link.ts'
import { fakeClient } from './support/fake-client.ts'

/** A router connection that answers every replay check at once. */
const ownLink = (): ServerLink => ({
  own: true,
  open: true,
  query: () => Promise.resolve<Row[]>([{ lsn: '0/100', received: '0/100', server: '127.0.0.1:5432@start' }]),
  reconnect: () => undefined,
  reset: () => undefined,
  release: () => undefined,
  close: () => Promise.resolve(),
})

describe('HealthMonitor.alive: is a replica with a read past readTimeoutMs busy, or down?', () => {
  it('asks the server on the router’s own connection; never for a pooled entry, whose connection may reach another server', async () => {
    const options = resolveOptions({ replicas: [fakeClient(), { client: fakeClient(), pooled: true }] })
    const router = new Router(options, () => Promise.resolve(0n), ownLink)
    const monitor = new HealthMonitor(router, ownLink(), options)
    const [single, pooled] = router.replicas
    expect(await monitor.alive(single!)).toBe(true)
    expect(monitor.alive(pooled!)).toBeUndefined() // the read is given up at its timeout, as without the probe
  })
})
