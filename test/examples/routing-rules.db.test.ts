import { afterAll, afterEach, expect, it } from 'vitest'
import { readReplicas, type RouteEvent } from '../../src/index.ts'
import { routedClient } from '../../examples/routing-rules/rules.ts'
import { healReplicas, newClient, requireCluster, topology, unique, waitForReplication } from '../support/db.ts'
import { requireMariadb } from '../support/mariadb.ts'
import { untilChecked } from '../support/until.ts'

const events: RouteEvent[] = []
const prisma = routedClient(
  topology.primaryUrl,
  topology.replicas.map((r) => r.url),
  (e) => events.push(e),
)
const plain = newClient(topology.primaryUrl)
afterEach(healReplicas)
afterAll(async () => {
  await Promise.all([prisma.$disconnect(), plain.$disconnect()])
})

it('AuditLog is read from the primary, DailyReport from the reporting replica, others by the region policy — proven by data', async (ctx) => {
  const cluster = requireCluster(ctx)
  await waitForReplication()
  // replica-1 = eu-app, replica-2 = us-analytics. Pause both: only the primary has what is written next.
  await cluster.pauseReplay('replica-1')
  await cluster.pauseReplay('replica-2')
  const actor = unique('actor')
  await plain.auditLog.create({ data: { action: 'login', actor } })
  await plain.user.create({ data: { email: `${actor}@x` } })
  expect(await prisma.auditLog.findFirst({ where: { actor } })).not.toBeNull() // fresh: the primary
  expect(await prisma.user.findUnique({ where: { email: `${actor}@x` } })).toBeNull() // stale: a replica
  expect(events.slice(-2)).toEqual([
    { model: 'AuditLog', operation: 'findFirst', target: 'primary', reason: 'rule' },
    { model: 'User', operation: 'findUnique', target: 'replica', replica: 'eu-app', reason: 'read' },
  ])

  // Only us-analytics replays: a DailyReport row becomes visible through the rule, a User row does not.
  await cluster.resumeReplay('replica-2')
  const day = new Date(Date.UTC(2000 + Math.floor(Math.random() * 900), 0, 1 + Math.floor(Math.random() * 28)))
  await plain.dailyReport.upsert({ where: { day }, create: { day, signups: 1, posts: 2 }, update: { signups: 1 } })
  await waitForReplication(['replica-2'])
  expect(await prisma.dailyReport.findUnique({ where: { day } })).not.toBeNull()
  expect(events.at(-1)).toEqual({ model: 'DailyReport', operation: 'findUnique', target: 'replica', replica: 'us-analytics', reason: 'rule' })
  for (let i = 0; i < 4; i++) await prisma.user.count()
  expect(events.slice(-4).map((e) => e.replica)).toEqual(['eu-app', 'eu-app', 'eu-app', 'eu-app'])
})

it('the region policy falls back to other replicas when no same-region replica is in rotation', async (ctx) => {
  const cluster = requireCluster(ctx)
  await prisma.user.count()
  await cluster.stopReplica('replica-1')
  for (let i = 0; i < 3; i++) await prisma.user.count()
  expect(events.slice(-3).map((e) => e.replica)).toEqual(['us-analytics', 'us-analytics', 'us-analytics'])
})

it('a rule naming a replica that is down follows fallback (the primary); writes of ruled models go to the primary', async (ctx) => {
  const cluster = requireCluster(ctx)
  await prisma.dailyReport.count()
  await cluster.stopReplica('replica-2')
  expect(await prisma.dailyReport.count()).toBeTypeOf('number')
  expect(await prisma.dailyReport.count()).toBeTypeOf('number')
  expect(events.at(-1)).toMatchObject({ model: 'DailyReport', target: 'primary', reason: 'fallback' })
  await prisma.auditLog.create({ data: { action: 'x', actor: 'y' } })
  expect(events.at(-1)).toMatchObject({ model: 'AuditLog', operation: 'create', target: 'primary', reason: 'write' })
})

it('rules naming an unknown model fail when the client is extended', () => {
  expect(() => newClient(topology.primaryUrl).$extends(routedRulesFor('Nope'))).toThrow('Unknown model `Nope` in `rules`: this client has no `nope` model')
})

function routedRulesFor(model: string) {
  return readReplicas({ replicas: [newClient(topology.replicas[0]!.url)], rules: { [model]: 'primary' } })
}

it('on MariaDB too (`npm run example:routing-rules -- --engine mariadb`): the rules route AuditLog and DailyReport reads, writes go to the primary', async (ctx) => {
  const cluster = requireMariadb(ctx)
  const seen: RouteEvent[] = []
  const maria = routedClient(cluster.primaryUrl, cluster.replicaUrls, (e) => seen.push(e), 'mariadb')
  try {
    await maria.auditLog.create({ data: { action: 'login', actor: unique('maria') } })
    // Reads after a write rely on replicas once the first health round has identified them (it runs once the
    // first query has settled: HealthMonitor.sent).
    await untilChecked(maria)
    await maria.auditLog.findMany()
    await maria.dailyReport.findMany()
    await maria.$replica('us-analytics').user.count()
    expect(seen).toEqual([
      { model: 'AuditLog', operation: 'create', target: 'primary', reason: 'write' },
      { model: 'AuditLog', operation: 'findMany', target: 'primary', reason: 'rule' },
      { model: 'DailyReport', operation: 'findMany', target: 'replica', replica: 'us-analytics', reason: 'rule' },
      { model: 'User', operation: 'count', target: 'replica', replica: 'us-analytics', reason: 'forced-replica' },
    ])
  } finally {
    await maria.$disconnect()
  }
})
