/**
 * `npm run example:notes`: starts a local PostgreSQL primary + 2 streaming replicas (no Docker), migrates the
 * primary only, serves the notes app on http://127.0.0.1:3000 (env PORT) and prints every routing decision.
 * Ctrl-C stops the server and the cluster.
 *
 * - `REPLICA_LAG_MS=300`: both replicas replay WAL 300 ms late (`recovery_min_apply_delay`), so that the
 *   read-your-writes cookie visibly matters (default 0; `--smoke` defaults to 300).
 * - `--smoke` (or `NOTES_SMOKE=1`): one create → redirect → list round trip (and a delete) over HTTP, then exit
 *   (status 1 if the list after the redirect misses the new note).
 */
import { fileURLToPath } from 'node:url'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../../generated/prisma/client.ts'
import type { RouteEvent } from 'prisma-replica-router'
import { assertPrimary } from 'prisma-replica-router'
import { startLocalCluster, type LocalCluster } from 'prisma-replica-router/testing'
import { prismaMigrateDeploy } from 'prisma-replica-router/testing'
import { close, CONSISTENCY_COOKIE, createNotesApp, escapeHtml, listen, withReadReplicas } from './app.ts'

const smoke = process.argv.includes('--smoke') || process.env.NOTES_SMOKE === '1'
const host = process.env.HOST ?? '127.0.0.1'
const port = intFromEnv('PORT', 3000, 65_535)
const lagMs = intFromEnv('REPLICA_LAG_MS', smoke ? 300 : 0, 60_000)
const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

function intFromEnv(name: string, fallback: number, max: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0 || value > max) {
    console.error(`${name} must be an integer from 0 to ${String(max)}, got \`${raw}\``)
    process.exit(2)
  }
  return value
}

const started = performance.now()
const ms = () => `${(performance.now() - started).toFixed(0).padStart(6)} ms`
const log = (line: string) => {
  console.log(`${ms()}  ${line}`)
}
const describeRoute = (e: RouteEvent) => `${((e.model ? `${e.model}.` : '') + e.operation).padEnd(16)} -> ${e.replica ?? e.target} (${e.reason}${e.sticky ? `: ${e.sticky}` : ''})`

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

const client = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })

/** create → follow the 303 with the cookie → list; then delete. Throws when the list misses the new note. */
async function smokeTest(baseUrl: string): Promise<void> {
  const title = `Smoke note <${String(process.pid)}> & "friends"`
  const created = await fetch(`${baseUrl}/notes`, {
    method: 'POST',
    body: new URLSearchParams({ title, content: 'created by --smoke' }),
    redirect: 'manual',
  })
  const cookie = created.headers.getSetCookie().find((c) => c.startsWith(`${CONSISTENCY_COOKIE}=`))
  log(`smoke: POST /notes -> ${String(created.status)} Location: ${String(created.headers.get('location'))}; Set-Cookie: ${String(cookie)}`)
  if (created.status !== 303 || cookie === undefined) throw new Error('smoke: expected a 303 with the rw cookie')
  const pair = cookie.split(';')[0] as string

  // What the browser does: follow the redirect, sending the cookie.
  const list = await fetch(`${baseUrl}/`, { headers: { cookie: pair } })
  const html = await list.text()
  const seen = html.includes(`<h3>${escapeHtml(title)}</h3>`)
  log(`smoke: GET / with the cookie -> ${String(list.status)}; the new note is ${seen ? 'listed' : 'MISSING'}`)

  // For comparison: the same list right away from a client without the cookie (another browser).
  const other = await (await fetch(`${baseUrl}/`)).text()
  log(
    `smoke: GET / without the cookie -> the new note is ${other.includes(`<h3>${escapeHtml(title)}</h3>`) ? 'listed' : `not listed yet (replicas replay ${String(lagMs)} ms late)`}`,
  )

  const id = new RegExp(`<li class="note" data-id="(\\d+)">\\s*<h3>${escapeRegExp(escapeHtml(title))}</h3>`).exec(html)?.[1]
  if (id !== undefined) {
    const deleted = await fetch(`${baseUrl}/notes/${id}/delete`, { method: 'POST', headers: { cookie: pair }, redirect: 'manual' })
    const next =
      deleted.headers
        .getSetCookie()
        .find((c) => c.startsWith(`${CONSISTENCY_COOKIE}=`))
        ?.split(';')[0] ?? pair
    const after = await (await fetch(`${baseUrl}/`, { headers: { cookie: next } })).text()
    log(`smoke: POST /notes/${id}/delete -> ${String(deleted.status)}; GET / -> the note is ${after.includes(`data-id="${id}"`) ? 'STILL LISTED' : 'gone'}`)
    if (after.includes(`data-id="${id}"`)) throw new Error('smoke: the deleted note is still listed after the redirect')
  }
  if (!seen) throw new Error('smoke: the list after the redirect misses the note just created')
  log('smoke: OK')
}

let cluster: LocalCluster | undefined
let prisma: ReturnType<typeof withReadReplicas> | undefined
let server: Awaited<ReturnType<typeof listen>>['server'] | undefined
let stopping: Promise<void> | undefined

async function shutdown(): Promise<void> {
  stopping ??= (async () => {
    if (server)
      await close(server).catch((error: unknown) => {
        console.error('closing the server:', error)
      })
    if (prisma) await prisma.$disconnect().catch(() => undefined)
    if (cluster) {
      await cluster.stop()
      log('cluster stopped')
    }
  })()
  await stopping
}

try {
  cluster = await startLocalCluster({ replicas: 2 })
  log(`cluster up: primary :${String(cluster.info.primary.port)}, ${cluster.info.replicas.map((r) => `${r.name} :${String(r.port)}`).join(', ')}`)
  await assertPrimary(cluster.primaryUrl, 'the primary URL')
  await prismaMigrateDeploy(cluster.primaryUrl, { cwd: repoRoot })
  await cluster.waitForReplication()
  log('migrated the primary; both replicas replayed the schema')
  if (lagMs > 0) {
    for (const r of cluster.info.replicas) await cluster.setReplicaLag(r.name, lagMs)
    log(`replicas replay WAL ${String(lagMs)} ms late (recovery_min_apply_delay)`)
  }

  prisma = withReadReplicas(client(cluster.primaryUrl), {
    replicas: cluster.info.replicas.map((r) => ({ client: client(r.url), name: r.name })),
    onRoute: (e) => {
      log(`    ${describeRoute(e)}`)
    },
  })
  const app = createNotesApp(prisma, {
    onRequest: (line) => {
      log(line)
    },
  })
  // The smoke run takes a free port unless PORT is set, so that it never collides with a running app.
  const listening = await listen(app, smoke && process.env.PORT === undefined ? 0 : port, host)
  server = listening.server
  log(`notes app on ${listening.url}/`)

  if (smoke) {
    await smokeTest(listening.url)
    await shutdown()
  } else {
    log('Ctrl-C to stop')
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        log(`${signal}: stopping`)
        resolve()
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    await shutdown()
  }
} catch (error) {
  console.error(error)
  process.exitCode = 1
  await shutdown()
}
