/**
 * A child "serverless function" for test/serverless-freeze.db.test.ts: a routed client (LSN read-your-writes,
 * `maxLag` 300 ms, health every 100 ms, idle after 500 ms) that takes commands on stdin, one per line, and
 * answers one JSON line each: `work N` (N scopes of create-then-read: stale and failed counts, where each read
 * went), `read ID` (a plain read of note ID: found or not, where it went), `quit`.
 */
import { createInterface } from 'node:readline'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../../generated/prisma/client.ts'
import { readReplicas, runInScope, type RouteEvent } from '../../src/index.ts'

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}
const client = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })
const routes: RouteEvent[] = []
const replicas = (JSON.parse(env('REPLICAS')) as { name: string; url: string }[]).map((r) => ({ client: client(r.url), name: r.name }))
const prisma = client(env('PRIMARY')).$extends(readReplicas({ replicas, maxLag: { ms: 300 }, health: { intervalMs: 100, idleAfterMs: 500 }, onRoute: (e) => routes.push(e) }))
const where = (e: RouteEvent | undefined) => (e === undefined ? 'none' : e.target === 'replica' ? (e.replica ?? '') : `primary (${e.reason})`)

for await (const line of createInterface({ input: process.stdin })) {
  const [command = '', arg = ''] = line.trim().split(' ')
  if (command === 'quit') break
  if (command === 'work') {
    const result = { stale: 0, failed: 0, errors: [] as string[], where: [] as string[] }
    for (let i = 0; i < Number(arg); i++) {
      try {
        await runInScope(async () => {
          const note = await prisma.note.create({ data: { title: `frozen-${String(process.pid)}-${String(i)}` } })
          const read = await prisma.note.findUnique({ where: { id: note.id } })
          if (read?.title !== note.title) result.stale += 1
          result.where.push(where(routes.at(-1)))
        })
      } catch (error) {
        result.failed += 1
        result.errors.push(String(error).slice(0, 200))
      }
    }
    console.log(JSON.stringify(result))
  } else if (command === 'read') {
    try {
      const found = await prisma.note.findUnique({ where: { id: Number(arg) } })
      console.log(JSON.stringify({ found: found !== null, where: where(routes.at(-1)), status: prisma.$replicaStatus().map((s) => `${s.name} ${s.state}`) }))
    } catch (error) {
      console.log(JSON.stringify({ failed: String(error).slice(0, 200) }))
    }
  }
}
await prisma.$disconnect()
process.exit(0)
