/**
 * Serverless functions freeze between invocations: the process is stopped (SIGSTOP) for longer than the health
 * interval and the idle pause while one replica dies and another falls behind, then resumed. The first reads
 * after the thaw are neither stale nor failed: the router treats the freeze as a pause (what it knew is as old
 * as the freeze) and its replicas are `waking` until they answer.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { healReplicas, newClient, requireCluster, topology, until } from './support/db.ts'

afterEach(healReplicas)

describe('a serverless function frozen and thawed', () => {
  it('SIGSTOP past the health interval and the idle pause while replica-1 dies and replica-2 falls 3 s behind: after SIGCONT, 0 failed and 0 stale reads, and a row written meanwhile is read (maxLag 300 ms)', async (ctx) => {
    const cluster = requireCluster(ctx)
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/frozen-app.ts'], {
      env: { ...process.env, PRIMARY: topology.primaryUrl, REPLICAS: JSON.stringify(topology.replicas.map((r) => ({ name: r.name, url: r.url }))) },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    const ask = async (command: string): Promise<Record<string, unknown>> => {
      child.stdin.write(`${command}\n`)
      const next = await lines.next()
      if (next.done === true) throw new Error(`the child exited: ${stderr}`)
      return JSON.parse(next.value) as Record<string, unknown>
    }
    try {
      const before = await ask('work 20')
      expect([before.stale, before.failed]).toEqual([0, 0])
      // Frozen between invocations.
      const pid = child.pid as number
      process.kill(pid, 'SIGSTOP')
      const frozenAt = performance.now()
      await cluster.stopReplica('replica-1')
      await cluster.setReplicaLag('replica-2', 3000)
      const primary = newClient(topology.primaryUrl)
      const meanwhile = await primary.note.create({ data: { title: 'written while frozen' } })
      await primary.$disconnect()
      // Longer than the idle pause (500 ms) and many health intervals (100 ms), with the row not on replica-2.
      await until('frozen for 1.5 s', () => performance.now() - frozenAt > 1500)
      process.kill(pid, 'SIGCONT')
      const read = await ask(`read ${String(meanwhile.id)}`)
      const after = await ask('work 20')
      console.info(`after the thaw: plain read of a row written while frozen ${JSON.stringify(read)}; 20 scopes: ${JSON.stringify(after)}`)
      expect(read).toMatchObject({ found: true })
      expect([after.stale, after.failed, after.errors]).toEqual([0, 0, []])
    } finally {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
    }
  }, 60_000)
})
