/**
 * The read decision (src/read-plan.ts), pure logic over a Router of fake clients: which plan each situation gets.
 * What those plans do on real servers is proven on the cluster (read-replicas.*.db.test.ts, the session checker).
 */
import { describe, expect, it } from 'vitest'
import { runInScope } from '../src/index.ts'
import { resolveOptions, type ReadReplicasOptions } from '../src/options.ts'
import { ReadPlanner, type ReadPlan } from '../src/read-plan.ts'
import { Router } from '../src/router.ts'
import { fakeClient } from './support/fake-client.ts'

function setup(options: Partial<ReadReplicasOptions> = {}, checkReplay: () => Promise<boolean> = () => Promise.resolve(false)) {
  const resolved = resolveOptions({
    replicas: [
      { client: fakeClient(), name: 'a' },
      { client: fakeClient(), name: 'b' },
    ],
    ...options,
  })
  const router = new Router(resolved, () => Promise.resolve(100n))
  // As after the health check's first round (each entry one server).
  for (const r of router.replicas) r.identified = true
  const planner = new ReadPlanner(router, resolved.rules, { reach: checkReplay })
  const plan = async (model = 'User'): Promise<ReadPlan> => {
    let planned: ReadPlan | undefined
    await planner.read(model, 'findMany', (p) => {
      planned = p
      return Promise.resolve()
    })
    if (!planned) throw new Error('no plan')
    return planned
  }
  return { router, plan }
}

const target = (p: ReadPlan) =>
  p.target === 'replica' ? `replica ${p.replica.name} (${p.reason}${p.confirm ? ', confirm' : ''})` : `primary (${p.reason}${p.sticky ? ` ${p.sticky}` : ''})`

describe('deciding a read', () => {
  it('with nothing written: a replica from the policy, nothing to confirm', async () => {
    const { plan } = setup()
    expect([target(await plan()), target(await plan())]).toEqual(['replica a (read)', 'replica b (read)'])
  })

  it('rules: the primary for a model, or one named replica (its only candidate after a failure)', async () => {
    const { plan } = setup({ rules: { Note: 'primary', AuditLog: 'b' } })
    expect(target(await plan('Note'))).toBe('primary (rule)')
    const named = await plan('AuditLog')
    expect(target(named)).toBe('replica b (rule)')
    if (named.target !== 'replica') throw new Error('unreachable')
    expect(named.candidates?.(named.replica)).toBe(true)
    expect(named.candidates?.({ ...named.replica, name: 'a' })).toBe(false)
  })

  it('window mode: the primary for the window after a write of the scope', async () => {
    const { router, plan } = setup({ sticky: { mode: 'window', windowMs: 60_000 } })
    await runInScope(async () => {
      expect(target(await plan())).toBe('replica a (read)')
      router.beginWrite()
      router.endWrite()
      expect(target(await plan())).toBe('primary (sticky window)')
    })
  })

  it('LSN mode after a write: a replica known to have replayed it (confirmed afterwards), never one behind', async () => {
    const { router, plan } = setup({ sticky: { mode: 'lsn', monotonic: false } })
    const [a, b] = router.replicas
    a!.replay = 50n // behind the write (the primary reports 100)
    b!.replay = 150n
    await runInScope(async () => {
      router.beginWrite()
      router.endWrite()
      const after = await plan()
      expect(target(after)).toBe('replica b (read, confirm)')
      if (after.target !== 'replica') throw new Error('unreachable')
      expect([after.candidates?.(a!), after.candidates?.(b!)]).toEqual([false, true])
    })
  })

  it('LSN mode after a write, no replica known to have it: the most advanced is asked once; the primary unless it has it', async () => {
    let answer = false
    const { router, plan } = setup({ sticky: { mode: 'lsn', monotonic: false } }, () => {
      if (answer) router.replicas[1]!.replay = 100n
      return Promise.resolve(true)
    })
    router.replicas[0]!.replay = 10n
    router.replicas[1]!.replay = 20n
    await runInScope(async () => {
      router.beginWrite()
      router.endWrite()
      expect(target(await plan())).toBe('primary (sticky lsn)')
      answer = true
      expect(target(await plan())).toBe('replica b (read, confirm)')
    })
  })

  it('an entry the health check has not identified yet (it may be several servers behind a pooler): reads after a write do not rely on it, plain reads use it', async () => {
    const { router, plan } = setup({ sticky: { mode: 'lsn', monotonic: false } }, () => Promise.resolve(true))
    for (const r of router.replicas) {
      r.replay = 100n
      r.identified = false
    }
    expect(target(await plan())).toMatch(/^replica /)
    await runInScope(async () => {
      router.beginWrite()
      router.endWrite()
      expect(target(await plan())).toBe('primary (sticky lsn)')
      ;(router.replicas[1] as { identified: boolean }).identified = true
      expect(target(await plan())).toMatch(/^replica b/)
    })
  })

  it('no replica in rotation: the primary, as a fallback', async () => {
    const { router, plan } = setup()
    for (const replica of router.replicas) router.set.fail(replica, 'ECONNREFUSED')
    expect(target(await plan())).toBe('primary (fallback)')
  })
})
