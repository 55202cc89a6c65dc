import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import { afterEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { activeSpan, spanLookup, spanPossible } from '../src/observability.ts'

afterEach(() => {
  trace.disable()
  context.disable()
})

describe('activeSpan', () => {
  it('takes the shortcut for the installed @opentelemetry/api 1.x (its version read from its package.json)', () => {
    expect(spanLookup()).toBe('globals')
  })

  it('loads @opentelemetry/api only once a context manager is registered (a cold process pays nothing for it otherwise)', () => {
    const script = [
      "import { createRequire } from 'node:module'",
      "const { spanPossible, activeSpan } = await import('./src/observability.ts')",
      'const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes("@opentelemetry/api/"))',
      'const before = [spanPossible(), activeSpan(), loaded()]',
      "const { context } = await import('@opentelemetry/api')",
      "const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks')",
      'context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())',
      'console.log(JSON.stringify([...before, spanPossible(), activeSpan()]))',
    ].join('\n')
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(JSON.parse(run.stdout)).toEqual([false, null, false, true, null])
  })

  it('is undefined with no context manager registered, the span inside an active span once one is, undefined again after disable()', () => {
    // Skipping the API walk when no context manager is registered relies on where @opentelemetry/api keeps its
    // globals: if that ever moves, the third expectation (the span, inside it) fails here.
    const provider = new BasicTracerProvider()
    trace.setGlobalTracerProvider(provider)
    const tracer = trace.getTracer('test')
    tracer.startActiveSpan('without a context manager', (span) => {
      expect(spanPossible(), 'the read path skips routing events entirely').toBe(false)
      expect(activeSpan()).toBeUndefined()
      span.end()
    })
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    expect(activeSpan()).toBeUndefined()
    expect(spanPossible(), 'a span may become active: the read path must report').toBe(true)
    tracer.startActiveSpan('with one', (span) => {
      expect(activeSpan()).toBe(span)
      span.end()
    })
    context.disable()
    expect(spanPossible()).toBe(false)
    tracer.startActiveSpan('after disable', (span) => {
      expect(activeSpan()).toBeUndefined()
      span.end()
    })
  })
})
