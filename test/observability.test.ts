import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import { afterEach, describe, expect, it } from 'vitest'
import { activeSpan, otelGlobalsKnown, spanPossible } from '../src/observability.ts'

afterEach(() => {
  trace.disable()
  context.disable()
})

describe('activeSpan', () => {
  it('takes the shortcut for the installed @opentelemetry/api 1.x (its version read from its package.json)', () => {
    expect(otelGlobalsKnown).toBe(true)
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
