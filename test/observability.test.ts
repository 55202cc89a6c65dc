import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import { afterEach, describe, expect, it } from 'vitest'
import { hasActiveSpan, otelGlobalsKnown } from '../src/observability.ts'

afterEach(() => {
  trace.disable()
  context.disable()
})

describe('hasActiveSpan', () => {
  it('takes the shortcut for the installed @opentelemetry/api 1.x (its version read from its package.json)', () => {
    expect(otelGlobalsKnown).toBe(true)
  })

  it('is false with no context manager registered, true inside an active span once one is, false again after disable()', () => {
    // Skipping the API walk when no context manager is registered relies on where @opentelemetry/api keeps its
    // globals: if that ever moves, the third expectation (true inside a span) fails here.
    const provider = new BasicTracerProvider()
    trace.setGlobalTracerProvider(provider)
    const tracer = trace.getTracer('test')
    tracer.startActiveSpan('without a context manager', (span) => {
      expect(hasActiveSpan()).toBe(false)
      span.end()
    })
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    expect(hasActiveSpan()).toBe(false)
    tracer.startActiveSpan('with one', (span) => {
      expect(hasActiveSpan()).toBe(true)
      span.end()
    })
    context.disable()
    tracer.startActiveSpan('after disable', (span) => {
      expect(hasActiveSpan()).toBe(false)
      span.end()
    })
  })
})
