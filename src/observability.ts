import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { HealthEvent } from './health-event.js'
import type { RouteEvent } from './route-event.js'

/** The part of `@opentelemetry/api` used here. */
interface OtelApi {
  trace: { getActiveSpan(): { setAttributes(attributes: Record<string, string>): unknown } | undefined }
}

/**
 * The major version of the installed `@opentelemetry/api` (an optional peer dependency), read from its
 * package.json (found from its entry point: the package exports no `./package.json`) without loading the API;
 * `null` when it is not installed, `undefined` when its version is unknown.
 */
function otelMajor(): string | null | undefined {
  const require = createRequire(import.meta.url)
  let dir: string
  try {
    dir = dirname(require.resolve('@opentelemetry/api'))
  } catch {
    return null
  }
  try {
    for (let depth = 0; depth < 6; depth++, dir = dirname(dir)) {
      const file = join(dir, 'package.json')
      if (!existsSync(file)) continue
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown }
      if (manifest.name === '@opentelemetry/api' && typeof manifest.version === 'string') return manifest.version.split('.')[0]
    }
  } catch {
    // Unknown: no shortcut.
  }
  return undefined
}

/** `@opentelemetry/api`, loaded on first need; `null` when it cannot be. */
let otel: OtelApi | null | undefined

function loadOtel(): OtelApi | null {
  if (otel !== undefined) return otel
  try {
    otel = createRequire(import.meta.url)('@opentelemetry/api') as OtelApi
  } catch {
    otel = null
  }
  return otel
}

/** Span attribute names set on the active span for every routing decision. */
export const SPAN_ATTRIBUTES = {
  /** `primary` or `replica`. */
  target: 'replica_router.target',
  /** The replica's name, when one served it. */
  replica: 'replica_router.replica',
  /** Why: a `RouteReason`. */
  reason: 'replica_router.reason',
  /** With reason `sticky`: `lsn` or `window`. */
  sticky: 'replica_router.sticky',
} as const

/**
 * Where `@opentelemetry/api` 1.x registers its globals (`context.setGlobalContextManager` sets `.context` on
 * it). Without a registered context manager no span is ever active, and looking for one still walks the API's
 * context, global registry and no-op manager on every read: about 1 µs per replica read, measured.
 */
const OTEL_GLOBALS = Symbol.for('opentelemetry.js.api.1')

/**
 * How spans are looked for, decided at the first routing decision (not at import: loading the API costs a cold
 * process ~25 ms, and most processes that have it installed register nothing): `none` (not installed), `globals`
 * (1.x: the API is loaded only once a context manager is registered, none can be active before), `ask` (another
 * or an unknown version: always asked).
 */
let lookup: 'none' | 'globals' | 'ask' | undefined

export function spanLookup(): 'none' | 'globals' | 'ask' {
  if (lookup !== undefined) return lookup
  const major = otelMajor()
  lookup = major === null ? 'none' : major === '1' ? 'globals' : 'ask'
  if (lookup === 'ask' && loadOtel() === null) lookup = 'none'
  return lookup
}

/** The part of an OpenTelemetry span used here. */
export type OtelSpan = NonNullable<ReturnType<OtelApi['trace']['getActiveSpan']>>

/**
 * False when no OpenTelemetry span can be active now: the API is not installed, or (1.x) no context manager is
 * registered. A few property reads, for the hot path to skip building anything.
 */
export function spanPossible(): boolean {
  const how = lookup ?? spanLookup()
  if (how === 'none') return false
  // No context manager registered: nothing can be active (the API would answer the same, at more cost).
  return how === 'ask' || (globalThis as Record<symbol, { context?: unknown } | undefined>)[OTEL_GLOBALS]?.context !== undefined
}

/** The active OpenTelemetry span, when OpenTelemetry is installed and one is active (cheap when none can be). */
export function activeSpan(): OtelSpan | undefined {
  return spanPossible() ? loadOtel()?.trace.getActiveSpan() : undefined
}

/** Adds the routing decision to `span` (from {@link activeSpan}). */
export function annotateSpan(span: OtelSpan, event: RouteEvent): void {
  const attributes: Record<string, string> = { [SPAN_ATTRIBUTES.target]: event.target, [SPAN_ATTRIBUTES.reason]: event.reason }
  if (event.replica !== undefined) attributes[SPAN_ATTRIBUTES.replica] = event.replica
  if (event.sticky !== undefined) attributes[SPAN_ATTRIBUTES.sticky] = event.sticky
  span.setAttributes(attributes)
}

/**
 * `debug`-style logging: on when `DEBUG` names `prisma-replica-router` (or `prisma-replica-router:*`, or `*`),
 * read once per extended client. Lines name replicas only: never a URL or a password.
 */
export function debugLogger(env: string | undefined = process.env.DEBUG): ((line: string) => void) | undefined {
  const on = (env ?? '').split(/[\s,]+/).some((pattern) => pattern === '*' || pattern === 'prisma-replica-router' || pattern === 'prisma-replica-router:*')
  return on ? (line) => process.stderr.write(`prisma-replica-router ${line}\n`) : undefined
}

export function formatRoute(e: RouteEvent): string {
  const what = e.model === undefined ? e.operation : `${e.model}.${e.operation}`
  return `route ${what} -> ${e.replica ?? e.target} (${e.reason}${e.sticky ? `: ${e.sticky}` : ''})`
}

export function formatHealth(e: HealthEvent): string {
  const lag = e.lag ? ` lag ${String(e.lag.ms)} ms / ${String(e.lag.bytes)} bytes` : ''
  return `health ${e.replica} ${e.previous} -> ${e.state} (${e.cause})${lag}`
}
