/**
 * `npm run example:nestjs`: starts a local PostgreSQL primary + 2 streaming replicas (no Docker), migrates the
 * primary only, serves the NestJS app, then shows over HTTP that a browser reads its own write across requests
 * (the `rw` cookie) while another browser, without it, does not see it yet: replay is paused on both replicas for
 * that, so the demonstration does not depend on how fast this machine is (exit 1 if either answer is not the
 * expected one). Prints every routing decision. `--serve` keeps serving on http://127.0.0.1:3000 (env PORT) with
 * the replicas replaying 300 ms late, until Ctrl-C.
 */
import { fileURLToPath } from 'node:url'
import type { RouteEvent } from 'prisma-replica-router'
import { assertPrimary } from 'prisma-replica-router'
import { prismaMigrateDeploy, startLocalCluster } from 'prisma-replica-router/testing'
import { createNestApp } from './app.module.ts'
import { CONSISTENCY_COOKIE } from './consistency.middleware.ts'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
const started = performance.now()
const log = (line: string) => {
  console.log(`${(performance.now() - started).toFixed(0).padStart(6)} ms  ${line}`)
}
const describeRoute = (e: RouteEvent) => `${((e.model ? `${e.model}.` : '') + e.operation).padEnd(16)} -> ${e.replica ?? e.target} (${e.reason})`

const cluster = await startLocalCluster({ replicas: 2 })
try {
  await assertPrimary(cluster.primaryUrl, 'the primary')
  await prismaMigrateDeploy(cluster.primaryUrl, { cwd: repoRoot })
  await cluster.waitForReplication()
  const serve = process.argv.includes('--serve')
  if (serve) for (const replica of cluster.info.replicas) await cluster.setReplicaLag(replica.name, 300)
  const app = await createNestApp({
    primaryUrl: cluster.primaryUrl,
    replicaUrls: cluster.info.replicas.map((r) => r.url),
    router: {
      onRoute: (e) => {
        log(`  ${describeRoute(e)}`)
      },
    },
  })
  const port = serve ? Number(process.env.PORT ?? 3000) : 0
  await app.listen(port, '127.0.0.1')
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1')
  log(`NestJS app on ${base}${serve ? ' (replicas replay WAL 300 ms late)' : ''}`)
  if (serve) {
    await new Promise<void>((resolve) => process.once('SIGINT', resolve))
  } else {
    for (const replica of cluster.info.replicas) await cluster.pauseReplay(replica.name)
    log('replay paused on both replicas (pg_wal_replay_pause): what the primary commits now, they do not have')
    log('POST /notes')
    const created = await fetch(`${base}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Hello from NestJS' }) })
    const note = (await created.json()) as { id: number }
    const cookie = (created.headers.getSetCookie().find((c) => c.startsWith(`${CONSISTENCY_COOKIE}=`)) ?? '').split(';')[0] ?? ''
    log(`GET /notes/${String(note.id)} with the cookie (${cookie.slice(0, 24)}…)`)
    const withCookie = await fetch(`${base}/notes/${String(note.id)}`, { headers: { cookie } })
    log(`  -> ${String(withCookie.status)} (${withCookie.status === 200 ? 'the new note: the cookie carried the write into this request' : 'MISSING'})`)
    log(`GET /notes/${String(note.id)} from another browser (no cookie)`)
    const without = await fetch(`${base}/notes/${String(note.id)}`)
    log(`  -> ${String(without.status)} (${without.status === 404 ? 'not replicated yet: a replica answered, and it has not replayed the write' : 'UNEXPECTED: replay is paused'})`)
    for (const replica of cluster.info.replicas) await cluster.resumeReplay(replica.name)
    log('replay resumed')
    if (withCookie.status !== 200 || without.status !== 404) process.exitCode = 1
  }
  await app.close()
} finally {
  await cluster.stop()
}
