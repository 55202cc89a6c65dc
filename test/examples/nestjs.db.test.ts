/**
 * examples/nestjs over HTTP against the real cluster, replay paused on both replicas: a browser reads its own
 * write on the next request (the `rw` cookie carries the consistency token into that request's scope); one
 * without the cookie does not see it yet. Then the example's own script (`npm run example:nestjs`).
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { NestExpressApplication } from '@nestjs/platform-express'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { RouteEvent } from '../../src/index.ts'
import { createNestApp } from '../../examples/nestjs/app.module.ts'
import { CONSISTENCY_COOKIE } from '../../examples/nestjs/consistency.middleware.ts'
import { healReplicas, replicaNames, requireCluster, topology, unique, waitForReplication } from '../support/db.ts'

const events: RouteEvent[] = []
let app: NestExpressApplication
let base: string

beforeAll(async () => {
  app = await createNestApp({
    primaryUrl: topology.primaryUrl,
    replicaUrls: topology.replicas.map((r) => r.url),
    router: { onRoute: (e) => events.push(e) },
  })
  await app.listen(0, '127.0.0.1')
  base = (await app.getUrl()).replace('[::1]', '127.0.0.1')
})
afterAll(async () => {
  await app.close() // PrismaService disconnects the routed client (enableShutdownHooks / onModuleDestroy)
})
afterEach(healReplicas)

const create = async (title: string, cookie?: string) => {
  const response = await fetch(`${base}/notes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie && { cookie }) },
    body: JSON.stringify({ title }),
  })
  const setCookie = response.headers.getSetCookie().find((c) => c.startsWith(`${CONSISTENCY_COOKIE}=`))
  return { status: response.status, note: (await response.json()) as { id: number; title: string }, cookie: setCookie?.split(';')[0] }
}

describe('examples/nestjs: a PrismaService with readReplicas, a scope per request, the token in a cookie', () => {
  it('replay paused on both replicas: the request after a create reads it (5 of 5); without the cookie it is missed (5 of 5)', async (ctx) => {
    const cluster = requireCluster(ctx)
    await waitForReplication()
    // Paused, not delayed: a delay is outrun or not depending on the machine's load.
    for (const name of replicaNames) await cluster.pauseReplay(name)
    let withCookie = 0
    let withoutCookie = 0
    for (let i = 0; i < 5; i++) {
      const { status, note, cookie } = await create(unique('nest'))
      expect(status).toBe(201)
      expect(cookie).toMatch(new RegExp(`^${CONSISTENCY_COOKIE}=`))
      const [mine, other] = await Promise.all([fetch(`${base}/notes/${String(note.id)}`, { headers: { cookie: cookie ?? '' } }), fetch(`${base}/notes/${String(note.id)}`)])
      if (mine.status === 200) withCookie += 1
      if (other.status === 200) withoutCookie += 1
    }
    console.info(`nestjs, replay paused: the next request read the new note ${String(withCookie)}/5 times with the rw cookie, ${String(withoutCookie)}/5 without`)
    expect(withCookie).toBe(5)
    expect(withoutCookie).toBe(0) // a request without the token reads a replica, which has not replayed it
  })

  it('reads go to replicas, writes to the primary; bad input is a 400', async () => {
    await waitForReplication()
    events.length = 0
    const list = await fetch(`${base}/notes`)
    expect(list.status).toBe(200)
    expect(Array.isArray(await list.json())).toBe(true)
    expect(events.map((e) => [e.model, e.operation, e.target])).toEqual([['Note', 'findMany', 'replica']])
    expect((await create('')).status).toBe(400)
    expect((await fetch(`${base}/notes/not-a-number`)).status).toBe(400)
    expect((await fetch(`${base}/notes/2147483000`)).status).toBe(404)
  })

  it('npm run example:nestjs (its own cluster, replay paused): 200 with the cookie, 404 without, exit 0', async (ctx) => {
    requireCluster(ctx) // the PostgreSQL binaries to start its own cluster with
    const root = fileURLToPath(new URL('../..', import.meta.url))
    // Imports the package by name: the built one (dist/), as an application would.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/nestjs/main.ts'], { cwd: root, timeout: 60_000 })
    console.info(`example:nestjs:\n${stdout}`)
    const answers = stdout.split('\n').filter((line) => / {2}-> \d{3} /.test(line))
    expect(answers.map((line) => /-> (\d{3} \([a-z ]+)/.exec(line)?.[1])).toEqual(['200 (the new note', '404 (not replicated yet'])
  })
})
