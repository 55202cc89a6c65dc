import { describe, expect, it } from 'vitest'
import { HealthMonitor } from '../src/health-monitor.ts'
import { resolveOptions } from '../src/options.ts'
import { Router } from '../src/router.ts'
import type { Row, ServerLink } from '../src/server-link.ts'
import { fakeClient } from './support/fake-client.ts'
import { until } from './support/until.ts'

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

describe('HealthMonitor.check: a process frozen in the middle of a round (SIGSTOP, a blocked event loop)', () => {
  /** Blocks the event loop for `ms`, as a frozen process: nothing of this process runs meanwhile. */
  const freeze = (ms: number) => {
    const until = performance.now() + ms
    while (performance.now() < until) {
      // frozen
    }
  }
  const link = (query: ServerLink['query']): ServerLink => ({ ...ownLink(), query })
  const replicaRow: Row = { lsn: '0/100', received: '0/100', server: '127.0.0.1:5433@start' }

  it.each([
    ['between the primary’s answer and the replica’s', 'replica'],
    ['while the primary’s position is on its way', 'primary'],
  ])('frozen %s: a replica at the primary’s last known position is not taken as caught up (maxLag 300 ms)', async (_label, frozenAt) => {
    let where = frozenAt
    const options = resolveOptions({ replicas: [fakeClient()], maxLag: { ms: 300 } })
    // The primary answers 0/100, the replica has replayed 0/100: caught up with what the round saw of the primary,
    // but the round's primary position is as old as the freeze, and the primary may have committed meanwhile.
    const primary = link(() => {
      if (where === 'primary') freeze(500)
      where = where === 'primary' ? 'nowhere' : where
      return Promise.resolve<Row[]>([{ lsn: '0/100' }])
    })
    const replica = link(() => {
      if (where === 'replica') freeze(500)
      where = where === 'replica' ? 'nowhere' : where
      return Promise.resolve<Row[]>([replicaRow])
    })
    const router = new Router(
      options,
      () => Promise.resolve(0n),
      () => replica,
    )
    const monitor = new HealthMonitor(router, primary, options)
    monitor.ensureStarted() // its first round is scheduled, not run: this test runs rounds itself
    try {
      await monitor.check()
      const [status] = router.replicas
      expect(status?.state).toBe('lagging')
      expect(status?.lag?.ms).toBeGreaterThanOrEqual(500)
      // Not frozen: the next round sees it caught up.
      await monitor.check()
      expect(status?.state).toBe('up')
      expect(status?.lag?.ms).toBeLessThan(300)
    } finally {
      await monitor.stop()
    }
  })

  it('frozen while a round waits for a replica: the next query finds the round overdue, and the replicas waking until checked again', async () => {
    const options = resolveOptions({ replicas: [fakeClient()], maxLag: { ms: 300 }, health: { intervalMs: 50, timeoutMs: 100, idleAfterMs: 200 } })
    const state: { asked: boolean; answer: (rows: Row[]) => void } = { asked: false, answer: () => undefined }
    const replica = link(
      () =>
        new Promise<Row[]>((resolve) => {
          state.asked = true
          state.answer = resolve
        }),
    )
    const router = new Router(
      options,
      () => Promise.resolve(0n),
      () => replica,
    )
    const monitor = new HealthMonitor(
      router,
      link(() => Promise.resolve<Row[]>([{ lsn: '0/100' }])),
      options,
    )
    try {
      monitor.ensureStarted()
      await monitor.sent(Promise.resolve())
      await until('the round asks the replica', () => state.asked)
      expect(router.replicas[0]?.state).toBe('up') // as configured, before any answer
      // Frozen longer than any round plus a pause (2 × 100 ms + 200 ms), then a query comes.
      freeze(600)
      monitor.ensureStarted()
      expect(router.replicas[0]?.state).toBe('waking')
      state.answer([replicaRow])
    } finally {
      await monitor.stop()
    }
  })

  it('maxLag: verdicts older than 2 intervals (a frozen or starved process) are not served by: the replicas are waking until the next round', async () => {
    const options = resolveOptions({ replicas: [fakeClient()], maxLag: { ms: 300 }, health: { intervalMs: 50 } })
    const router = new Router(
      options,
      () => Promise.resolve(0n),
      () => link(() => Promise.resolve<Row[]>([replicaRow])),
    )
    const monitor = new HealthMonitor(
      router,
      link(() => Promise.resolve<Row[]>([{ lsn: '0/100' }])),
      options,
    )
    monitor.ensureStarted()
    try {
      await monitor.check()
      expect(router.replicas[0]?.state).toBe('up')
      // Frozen past 2 intervals (the health check's idle pause, 10 s, is far): the next query finds old verdicts.
      freeze(300)
      monitor.ensureStarted()
      expect(router.replicas[0]?.state).toBe('waking')
      await monitor.check()
      expect(router.replicas[0]?.state).toBe('up')
    } finally {
      await monitor.stop()
    }
  })
})
