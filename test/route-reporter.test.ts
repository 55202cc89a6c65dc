import { describe, expect, it, vi } from 'vitest'
import type { RouteEvent } from '../src/index.ts'
import { RouteReporter } from '../src/route-reporter.ts'

describe('route reporting', () => {
  it('tells onRoute each decision: to a replica by name, or to the primary with its sticky kind', () => {
    const events: RouteEvent[] = []
    const report = new RouteReporter({ onRoute: (e) => events.push(e), onHealthChange: undefined })
    expect(report.observed()).toBe(true)
    report.route('User', 'findMany', 'read', 'replica-1')
    report.route('User', 'findMany', 'sticky', undefined, 'lsn')
    report.route(undefined, '$queryRaw', 'raw')
    expect(events).toEqual([
      { model: 'User', operation: 'findMany', target: 'replica', replica: 'replica-1', reason: 'read' },
      { model: 'User', operation: 'findMany', target: 'primary', reason: 'sticky', sticky: 'lsn' },
      { model: undefined, operation: '$queryRaw', target: 'primary', reason: 'raw' },
    ])
  })

  it('a throwing listener becomes a process warning, never an exception', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined)
    const report = new RouteReporter({
      onRoute: () => {
        throw new Error('listener bug')
      },
      onHealthChange: () => {
        throw new Error('health listener bug')
      },
    })
    expect(() => {
      report.route('User', 'findMany', 'read', 'replica-1')
      report.health('replica-1', 'down', 'up', 'ECONNREFUSED', undefined)
    }).not.toThrow()
    expect(warn).toHaveBeenCalledWith('onRoute threw: listener bug', 'PrismaReplicaRouterWarning')
    expect(warn).toHaveBeenCalledWith('onHealthChange threw: health listener bug', 'PrismaReplicaRouterWarning')
    warn.mockRestore()
  })

  it('counts nothing by reporting: the counters are the callers’ to count', () => {
    const report = new RouteReporter({ onRoute: () => undefined, onHealthChange: undefined })
    report.route('User', 'findMany', 'retry', 'replica-2')
    report.route('User', 'findMany', 'fallback')
    expect([report.retries, report.fallbacks, report.slowReads, report.healthChecks, report.unconfirmed]).toEqual([0, 0, 0, 0, 0])
  })
})
