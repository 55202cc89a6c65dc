/**
 * What the router's health checks cost a server, measured on the server: CPU time of one probe (the replica
 * check, on an open connection) and of one connection opened and closed (identification rounds), against the
 * same server's CPU time for a `findUnique` by id from a plain PrismaClient, measured in the same run. Then what
 * that makes at 100 application instances with the default interval. Linux only (reads /proc).
 */
import { readFileSync } from 'node:fs'
import pg from 'pg'
import { REPLAY_LSN_SQL } from '../src/dialects/postgresql.ts'
import { client, emitResult, seededCluster } from './support.ts'

const PROBES = Number(process.env.PROBES ?? 20_000)
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 300)
const TICK_MS = 10 // USER_HZ = 100 on Linux

/** CPU time (ms) of a process, and of its reaped children (its exited backends, for a postmaster). */
function cpu(pid: number): { own: number; children: number } {
  const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ')
  // After the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
  const at = (i: number) => Number(fields[i]) * TICK_MS
  return { own: at(11) + at(12), children: at(13) + at(14) }
}

const { cluster, maxUserId } = await seededCluster(1, 200)
try {
  const url = cluster.info.replicas[0]?.url ?? ''
  const postmaster = Number(readFileSync(`${cluster.info.replicas[0]?.dataDir ?? ''}/postmaster.pid`, 'utf8').split('\n')[0])

  // One probe: the router's replica check on its open connection.
  const probe = new pg.Client({ connectionString: url })
  await probe.connect()
  const probePid = (await probe.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0
  for (let i = 0; i < 500; i++) await probe.query(REPLAY_LSN_SQL)
  const probeBefore = cpu(probePid).own
  for (let i = 0; i < PROBES; i++) await probe.query(REPLAY_LSN_SQL)
  const probeMs = (cpu(probePid).own - probeBefore) / PROBES
  await probe.end()

  // Baseline: a findUnique by id from a plain PrismaClient (one connection: its pool's first).
  const prisma = client(url, 'minimal')
  await prisma.$connect()
  const readPid = (await prisma.$queryRawUnsafe<{ pid: number }[]>('SELECT pg_backend_pid() AS pid'))[0]?.pid ?? 0
  for (let i = 0; i < 500; i++) await prisma.user.findUnique({ where: { id: 1 + (i % maxUserId) } })
  const readBefore = cpu(readPid).own
  for (let i = 0; i < PROBES; i++) await prisma.user.findUnique({ where: { id: 1 + (i % maxUserId) } })
  const readMs = (cpu(readPid).own - readBefore) / PROBES
  await prisma.$disconnect()

  // One connection opened, probed once and closed (what an identification round costs).
  const before = cpu(postmaster)
  for (let i = 0; i < CONNECTIONS; i++) {
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    await c.query(REPLAY_LSN_SQL)
    await c.end()
  }
  // Exited backends are counted once the postmaster has reaped them: wait until their CPU time stops growing.
  let after = cpu(postmaster)
  for (let last = -1; after.children !== last;) {
    last = after.children
    await new Promise((resolve) => setTimeout(resolve, 200))
    after = cpu(postmaster)
  }
  const connectionMs = (after.own + after.children - before.own - before.children) / CONNECTIONS

  const instances = 100
  const intervalS = 1
  const probesPerS = instances / intervalS
  const reconnectsPerS = instances / 300 / intervalS // every 300th round (HealthMonitor: IDENTIFY_EVERY_OWN)
  const share = (probesPerS * probeMs + reconnectsPerS * connectionMs) / 1000
  console.log(`Server CPU time, measured from /proc on the replica (${String(PROBES)} probes, ${String(CONNECTIONS)} connections, 10 ms clock ticks):\n`)
  console.log('| what | server CPU per unit | / a findUnique by id (baseline, same run) |')
  console.log('| --- | ---: | ---: |')
  console.log(`| findUnique by id from a plain PrismaClient (baseline) | ${(readMs * 1000).toFixed(1)} µs | 1.00 |`)
  console.log(`| one health probe (replica check on the router's open connection) | ${(probeMs * 1000).toFixed(1)} µs | ${(probeMs / readMs).toFixed(2)} |`)
  console.log(`| one connection opened, probed and closed (identification round) | ${(connectionMs * 1000).toFixed(0)} µs | ${(connectionMs / readMs).toFixed(1)} |`)
  console.log(
    `\nAt ${String(instances)} application instances, checks every ${String(intervalS * 1000)} ms: each server gets ${String(probesPerS)} probes/s and ` +
      `${reconnectsPerS.toFixed(1)} connections/s, about ${(share * 100).toFixed(1)}% of one CPU core ` +
      `(as much as ${((probesPerS * probeMs + reconnectsPerS * connectionMs) / readMs).toFixed(0)} findUnique/s), and holds ${String(instances)} router connections ` +
      '(one per instance, only while that instance is active).',
  )
  emitResult('health-cost', { probeMs, readMs, connectionMs, instances, share })
} finally {
  await cluster.stop()
}
