import { spawnSync } from 'node:child_process'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, describe, expect, it } from 'vitest'
import { prometheusMetrics, SPAN_ATTRIBUTES } from '../src/index.ts'
import { routedClient, topology } from './support/db.ts'

const { prisma } = routedClient({ sticky: { mode: 'window', windowMs: 60_000 } })
afterAll(() => prisma.$disconnect())

describe('OpenTelemetry (optional peer dependency)', () => {
  it('adds target, replica and reason to the active span, shown with an in-memory exporter', async () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    trace.setGlobalTracerProvider(provider)
    const tracer = trace.getTracer('test')
    await tracer.startActiveSpan('read', async (span) => {
      await prisma.user.count()
      span.end()
    })
    await tracer.startActiveSpan('write-then-read', async (span) => {
      await prisma.note.create({ data: { title: 'otel' } })
      span.end()
    })
    await tracer.startActiveSpan('sticky-read', async (span) => {
      await prisma.note.count()
      span.end()
    })
    const spans = Object.fromEntries(exporter.getFinishedSpans().map((s) => [s.name, s.attributes]))
    expect(spans.read).toEqual({ [SPAN_ATTRIBUTES.target]: 'replica', [SPAN_ATTRIBUTES.replica]: 'replica-1', [SPAN_ATTRIBUTES.reason]: 'read' })
    expect(spans['write-then-read']).toEqual({ [SPAN_ATTRIBUTES.target]: 'primary', [SPAN_ATTRIBUTES.reason]: 'write' })
    expect(spans['sticky-read']).toEqual({ [SPAN_ATTRIBUTES.target]: 'primary', [SPAN_ATTRIBUTES.reason]: 'sticky', [SPAN_ATTRIBUTES.sticky]: 'window' })
    trace.disable()
    context.disable()
  })
})

describe('metrics export', () => {
  it('prometheusMetrics() renders per-replica state, lag, in-flight, reads and failures, queries on the primary by reason, and router counters', async () => {
    await prisma.$connect()
    for (let i = 0; i < 4; i++) await prisma.$replica(`replica-${String((i % 2) + 1)}`).user.count()
    const forced = prisma.$routerStats().routed.primary['forced-primary'] ?? 0
    await prisma.$primary().user.count()
    const text = prometheusMetrics(prisma)
    expect(text).toContain(`prisma_replica_router_primary_queries_total{reason="forced-primary"} ${String(forced + 1)}\n`)
    expect(text).toContain('# TYPE prisma_replica_router_replica_reads_total counter')
    expect(text).toMatch(/^prisma_replica_router_replica_state\{replica="replica-1",state="up"\} 1$/m)
    expect(text).toMatch(/^prisma_replica_router_replica_state\{replica="replica-1",state="down"\} 0$/m)
    expect(text).toMatch(/^prisma_replica_router_replica_in_flight\{replica="replica-2"\} 0$/m)
    expect(text).toMatch(/^prisma_replica_router_fallbacks_total 0$/m)
    expect(text).toMatch(/^prisma_replica_router_slow_reads_total 0$/m)
    expect(text).toMatch(/^prisma_replica_router_health_checks_total [1-9]\d*$/m)
    const reads = [...text.matchAll(/^prisma_replica_router_replica_reads_total\{replica="(replica-\d)"\} (\d+)$/gm)].map((m) => Number(m[2]))
    expect(reads.every((n) => n >= 2)).toBe(true)
    expect(text).not.toContain('postgresql://')
  })
})

describe('debug logging', () => {
  it('DEBUG=prisma-replica-router logs every decision to stderr, names only', () => {
    const script = `
      const { PrismaPg } = await import('@prisma/adapter-pg')
      const { PrismaClient } = await import('./generated/prisma/client.ts')
      const { readReplicas } = await import('./src/index.ts')
      const client = (url) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })
      const prisma = client(process.env.P).$extends(readReplicas({ replicas: [client(process.env.R)] }))
      await prisma.user.count()
      await prisma.$queryRaw\`SELECT 1\`
      await prisma.$disconnect()
    `
    const run = (debug: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, DEBUG: debug, P: topology.primaryUrl, R: topology.replicas[0]!.url },
        encoding: 'utf8',
      })
    const on = run('express:*,prisma-replica-router')
    expect(on.status).toBe(0)
    expect(on.stderr).toContain('prisma-replica-router route User.count -> replica-1 (read)')
    expect(on.stderr).toContain('prisma-replica-router route $queryRaw -> primary (raw)')
    expect(on.stderr).not.toContain('postgresql://')
    const off = run('')
    expect(off.stderr).not.toContain('prisma-replica-router')
  })
})
