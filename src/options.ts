import { describeValue } from './describe-value.js'
import { InvalidOptionError } from './errors/index.js'
import { isReplicaName } from './replica-name.js'
import type { HealthEvent } from './health-event.js'
import type { RouteEvent } from './route-event.js'
import { leastInFlight } from './policies/least-in-flight.js'
import { random } from './policies/random.js'
import { roundRobin } from './policies/round-robin.js'
import type { RoutingPolicy } from './policies/routing-policy.js'
import { weighted } from './policies/weighted.js'

/**
 * The part of a PrismaClient this library relies on. Any PrismaClient (generated or extended) fits.
 * Structural, so the library never imports your generated client.
 */
export interface PrismaClientLike {
  /** Connects the client (Prisma connects lazily otherwise). */
  $connect(): Promise<void>
  /** Closes its connections. */
  $disconnect(): Promise<void>
  /** Prisma's `$extends`: what marks a PrismaClient. */
  $extends: unknown
  /** Used for the router's own queries only where it cannot open connections of its own (docs/health-and-failover.md, "The router's own connections"). */
  $queryRawUnsafe(query: string): PromiseLike<unknown>
}

/** A replica with a name and a weight. */
export interface ReplicaConfig {
  /** A PrismaClient connected to the replica (e.g. `new PrismaClient({ adapter: new PrismaPg({ connectionString }) })`). */
  readonly client: PrismaClientLike
  /**
   * Name used in events, errors, `$replica(name)` and policies. Never derived from the connection string.
   * @default `replica-<n>` (1-based position in `replicas`)
   * @example 'eu-west-1a'
   */
  readonly name?: string | undefined
  /**
   * Share of reads relative to the other replicas, for the `weighted` policy (and custom policies).
   * A finite number > 0.
   * @default 1
   * @example 2
   */
  readonly weight?: number | undefined
  /**
   * The entry is several servers behind one address: a pooler (PgBouncer, Supavisor), HAProxy, a Kubernetes
   * read-only service, Aurora's reader endpoint. A replay position it reports belongs to whichever server
   * answered, so reads that must see their scope's writes, or be monotonic, never go through it; plain reads
   * do. Detected at run time too (another server answers, or its position goes backwards), with a warning.
   * @default false
   * @example { client: readerEndpoint, name: 'reader', pooled: true }
   */
  readonly pooled?: boolean | undefined
  /**
   * MariaDB / MySQL: the replica's connection URL (`mysql://user:password@host:port/db`, as given to
   * `PrismaMariaDb`), for the router's own connection to it (health checks, GTID positions). `@prisma/adapter-mariadb`
   * keeps its settings private, so the router cannot take them from the client as it does from
   * `@prisma/adapter-pg`; without it, those queries go through the replica's PrismaClient (with one warning).
   * Never shown in errors, logs or events. Not used on PostgreSQL.
   * @default undefined
   * @example { client: replica, name: 'r1', connection: process.env.REPLICA_URL }
   */
  readonly connection?: string | undefined
}

/** Name of a built-in routing policy. */
export type PolicyName = 'round-robin' | 'random' | 'weighted' | 'least-in-flight'

/**
 * Read-your-writes after a write, raw query or transaction in a scope.
 * - `lsn`: a read of the scope goes to a replica only if that replica has replayed the primary's WAL position
 *   taken after the scope's last write (else the primary). Reads return to replicas as soon as they caught up.
 * - `window`: the scope's reads go to the primary for `windowMs` after each write.
 */
export interface StickyOptions {
  /**
   * @default 'lsn'
   * @example { mode: 'window', windowMs: 5000 }
   */
  readonly mode?: 'lsn' | 'window' | undefined
  /**
   * Window mode only: how long the scope's reads stay on the primary after a write. A finite number >= 0;
   * `0` never pins a scope. Setting it without `mode` selects window mode.
   * @default 2000
   * @example { windowMs: 5000 }
   */
  readonly windowMs?: number | undefined
  /**
   * LSN mode only: monotonic reads in every `runInScope` scope (and across its consistency token): a read never
   * returns an older version of a row than an earlier read of the scope returned, even when reads move between
   * replicas that lag differently. A scope keeps reading from the replica it read from last while that replica
   * can serve it; the client-wide scope outside `runInScope` (shared by all concurrent work) is not held to it.
   * @default true
   * @example { mode: 'lsn', monotonic: false }
   */
  readonly monotonic?: boolean | undefined
  /**
   * LSN mode only: how long a read that must see its scope's writes may wait for a replica to replay them
   * before it goes to the primary (ms). While it waits, the replica is asked for its replay position again, one
   * check at a time shared by every waiting read (each counted in `$routerStats().replicaChecks`); a replica
   * whose measured lag exceeds the time left is not waited for. `0`: one check, no waiting. A finite number >= 0.
   * @default 0
   * @example { mode: 'lsn', waitMs: 20 }
   */
  readonly waitMs?: number | undefined
}

/** The default sticky mode, chosen by measurement (docs/benchmarks.md). */
export const DEFAULT_STICKY_MODE: 'lsn' | 'window' = 'lsn'

/** Replicas further behind than this leave rotation until they catch up. Set at least one of the two. */
export interface MaxLagOptions {
  /**
   * Maximum time a replica may be behind (how long since the primary was first seen past the replica's replay
   * position). A finite number > 0.
   * @example { ms: 500 }
   */
  readonly ms?: number | undefined
  /**
   * Maximum WAL bytes a replica may be behind the primary. A finite number > 0.
   * @example { bytes: 16 * 1024 * 1024 }
   */
  readonly bytes?: number | undefined
}

/** The background health check. */
export interface HealthOptions {
  /**
   * Milliseconds between two checks. Each check runs one cheap query on each replica, and on the primary while
   * the router needs its position, on the router's own connections. Its timer is `unref`'d, starts with the
   * first query, pauses after `idleAfterMs` and stops on `$disconnect()`. A finite number >= 10.
   * @default 1000
   * @example { intervalMs: 250 }
   */
  readonly intervalMs?: number | undefined
  /**
   * Milliseconds a check may take on one server before that server counts as down. A finite number > 0.
   * @default 1000
   */
  readonly timeoutMs?: number | undefined
  /**
   * Milliseconds without a query through the routed client after which the health check stops and the router's
   * own connections close, until the next query (which starts a check at once; a replica that died meanwhile
   * costs that query at most one retry). Lets scale-to-zero databases suspend (Neon suspends a compute after 5
   * minutes without queries). `false`: checks run from the first query until `$disconnect()`. A finite number >= 0.
   * @default 10000 (like node-postgres' `idleTimeoutMillis`: the router's connections close when your pool's do)
   * @example { idleAfterMs: 60_000 }
   */
  readonly idleAfterMs?: number | false | undefined
  /**
   * Milliseconds the first check after a pause waits for a replica to answer before it counts as down: servers
   * that suspend when idle (Neon computes) take 0.5–5 s to wake, and the connection that wakes them is held until
   * they accept. Meanwhile the replica is `waking` and reads go elsewhere. A finite number > 0.
   * @default 10000
   * @example { wakeTimeoutMs: 30_000 }
   */
  readonly wakeTimeoutMs?: number | undefined
}

/**
 * Options of `readReplicas()`. `Model`: the schema's model names, for `rules` (`Prisma.ModelName` of your
 * generated client: `readReplicas<Prisma.ModelName>({ rules: { AuditLog: 'primary' } })` then rejects a misspelt
 * model at compile time; by default any string, checked when the extension is applied).
 */
export interface ReadReplicasOptions<Model extends string = string> {
  /**
   * The replicas, as PrismaClients (drop-in with `@prisma/extension-read-replicas`) or `{ client, name, weight }`.
   * At least one.
   * @example [replicaA, { client: replicaB, name: 'replica-b', weight: 2 }]
   */
  readonly replicas: readonly (PrismaClientLike | ReplicaConfig)[]
  /**
   * How a replica is chosen for each read: `'round-robin'`, `'random'`, `'weighted'` (by `weight`),
   * `'least-in-flight'`, or your own {@link RoutingPolicy}.
   * @default 'round-robin'
   * @example 'least-in-flight'
   */
  readonly policy?: PolicyName | RoutingPolicy | undefined
  /**
   * Read-your-writes within a scope (see `runInScope`): by WAL position (`{ mode: 'lsn' }`) or by a fixed
   * window after each write (`{ mode: 'window', windowMs }`). `false` turns it off: reads always go to
   * replicas and may not see the scope's own writes yet.
   * @default { mode: 'lsn' }
   * @example { mode: 'window', windowMs: 2000 }
   */
  readonly sticky?: StickyOptions | false | undefined
  /**
   * Called synchronously with every routing decision, before the query runs. Exceptions it throws are
   * caught and reported as a process warning; they never fail the query.
   * @default undefined
   * @example (event) => console.log(event.model, event.operation, '->', event.replica ?? event.target, event.reason)
   */
  readonly onRoute?: ((event: RouteEvent) => void) | undefined
  /**
   * Take replicas out of rotation while their measured lag is over these limits; they come back when under.
   * @default undefined (lag is measured and reported, but no replica is excluded for it)
   * @example { ms: 500 }
   */
  readonly maxLag?: MaxLagOptions | undefined
  /**
   * What a read does when no replica is usable (all down or lagging): `'primary'` sends it to the primary;
   * `'error'` throws `NoReplicaAvailableError`. Both are reported to `onRoute` with reason `fallback`.
   * @default 'primary'
   * @example 'error'
   */
  readonly fallback?: 'primary' | 'error' | undefined
  /**
   * The background health check that re-admits failed replicas and measures lag, on the router's own
   * connections (docs/health-and-failover.md, "The router's own connections").
   * @default { intervalMs: 1000, timeoutMs: 1000, idleAfterMs: 10000, wakeTimeoutMs: 10000 }
   */
  readonly health?: HealthOptions | undefined
  /**
   * A read on a replica running longer than this makes the router probe that server on its own connection
   * (within `health.timeoutMs`): a server that answers is busy, not down, and the read goes on there (looked at
   * again after each further `readTimeoutMs`, never run a second time); one that does not answer leaves
   * rotation and the read is retried elsewhere (so a hung server costs one timeout and one probe). Where the
   * router has no connection of its own to the replica (another driver adapter), the read is given up at once.
   * Checked without a timer per read: after at least this long, and at most a quarter of this (capped at
   * 250 ms) later, plus event-loop delay. `false`: never.
   * @default 10000
   * @example 30000
   */
  readonly readTimeoutMs?: number | false | undefined
  /**
   * Called when a replica changes state (up, down, lagging). Exceptions it throws become process warnings.
   * @default undefined
   * @example (e) => logger.warn(`${e.replica} is ${e.state} (${e.cause})`)
   */
  readonly onHealthChange?: ((event: HealthEvent) => void) | undefined
  /**
   * Per-model routing of reads, by model name as in the schema: `'primary'` (always the primary, e.g. an
   * audit log that must never be stale), a replica's name (always that replica while it is in rotation, e.g.
   * reporting on a dedicated replica), or a {@link RoutingPolicy} for that model's reads. Writes always go to
   * the primary; read-your-writes still applies. Unknown models and replica names are errors.
   * @default {}
   * @example { AuditLog: 'primary', Report: 'analytics', Product: sameRegionFirst }
   */
  readonly rules?: Readonly<Partial<Record<Model, 'primary' | (string & {}) | RoutingPolicy>>> | undefined
  /**
   * MariaDB / MySQL: the primary's connection URL, for the router's own connection to it (GTID positions after
   * writes); see `ReplicaConfig.connection`. Never shown in errors, logs or events. Not used on PostgreSQL.
   * @default undefined
   * @example process.env.DATABASE_URL
   */
  readonly primaryConnection?: string | undefined
  /**
   * Where raw reads go. `'primary'`: every raw query (as `@prisma/extension-read-replicas` does). `'classify'`
   * (PostgreSQL): `$queryRaw`, `$queryRawUnsafe` and `$queryRawTyped` go to a replica, like model reads
   * (read-your-writes, health, failover), when PostgreSQL's own parser (the optional peer `libpg-query`, loaded
   * on first use) proves the statement a plain read: one `SELECT` (or `VALUES`, `TABLE`), no writable CTE, no
   * `FOR UPDATE`/`FOR SHARE`, no `SELECT INTO`, and no function outside a list of read-only built-ins (every
   * other function, including yours, may write). Verdicts are cached per SQL text. `$executeRaw*` always go to
   * the primary.
   * @default 'primary'
   * @example 'classify'
   */
  readonly raw?: 'primary' | 'classify' | undefined
}

/** A replica after validation. */
export interface ResolvedReplica {
  readonly client: PrismaClientLike
  readonly name: string
  readonly weight: number
  readonly index: number
  readonly pooled: boolean
  readonly connection: string | undefined
}

/** Options after validation, with defaults applied. */
export interface ResolvedOptions {
  readonly replicas: readonly ResolvedReplica[]
  readonly policy: RoutingPolicy
  readonly sticky: false | { readonly mode: 'window'; readonly windowMs: number } | { readonly mode: 'lsn'; readonly monotonic: boolean; readonly waitMs: number }
  readonly onRoute: ((event: RouteEvent) => void) | undefined
  readonly maxLag: { readonly ms: number | undefined; readonly bytes: number | undefined }
  readonly fallback: 'primary' | 'error'
  readonly health: { readonly intervalMs: number; readonly timeoutMs: number; readonly idleAfterMs: number | false; readonly wakeTimeoutMs: number }
  readonly readTimeoutMs: number | false
  readonly onHealthChange: ((event: HealthEvent) => void) | undefined
  /** Model name -> `'primary'`, a configured replica's name, or a policy (a name `primary` is the primary). */
  readonly rules: ReadonlyMap<string, string | RoutingPolicy>
  readonly primaryConnection: string | undefined
  readonly raw: 'primary' | 'classify'
}

const OPTION_KEYS = ['replicas', 'policy', 'sticky', 'onRoute', 'maxLag', 'fallback', 'health', 'readTimeoutMs', 'onHealthChange', 'rules', 'primaryConnection', 'raw'] as const
const REPLICA_KEYS = ['client', 'name', 'weight', 'pooled', 'connection'] as const
const STICKY_KEYS = ['mode', 'windowMs', 'monotonic', 'waitMs'] as const
const MAX_LAG_KEYS = ['ms', 'bytes'] as const
const HEALTH_KEYS = ['intervalMs', 'timeoutMs', 'idleAfterMs', 'wakeTimeoutMs'] as const
const POLICIES: Record<PolicyName, () => RoutingPolicy> = {
  'round-robin': roundRobin,
  random: () => random(),
  weighted,
  'least-in-flight': leastInFlight,
}

const fail = (option: string, message: string): never => {
  throw new InvalidOptionError(option, message)
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** Structural check: the three methods every PrismaClient (plain, extended) has. */
export function isPrismaClientLike(value: unknown): value is PrismaClientLike {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  const v = value as Record<string, unknown>
  return typeof v.$connect === 'function' && typeof v.$disconnect === 'function' && typeof v.$extends === 'function' && typeof v.$queryRawUnsafe === 'function'
}

function checkKeys(path: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      fail(`${path}${key}`, `Unknown option \`${path}${key}\`; expected one of: ${known.map((k) => `\`${k}\``).join(', ')}`)
    }
  }
}

function resolveReplica(entry: unknown, index: number): ResolvedReplica {
  const path = `replicas[${String(index)}]`
  if (isPrismaClientLike(entry)) return { client: entry, name: `replica-${String(index + 1)}`, weight: 1, index, pooled: false, connection: undefined }
  if (!isObject(entry)) {
    return fail(path, `Expected \`${path}\` to be a PrismaClient or { client, name?, weight?, pooled? }, got ${describeValue(entry)}`)
  }
  checkKeys(`${path}.`, entry, REPLICA_KEYS)
  const { client, name = `replica-${String(index + 1)}`, weight = 1, pooled = false, connection } = entry
  if (!isPrismaClientLike(client)) {
    fail(`${path}.client`, `Expected \`${path}.client\` to be a PrismaClient, got ${describeValue(client)}`)
  }
  if (!isReplicaName(name)) {
    return fail(`${path}.name`, `Expected \`${path}.name\` to be 1-64 characters of letters, digits, _ . : -, got ${describeValue(name)}`)
  }
  if (name === 'primary') fail(`${path}.name`, '`primary` is reserved for the primary: choose another replica name')
  if (typeof pooled !== 'boolean') fail(`${path}.pooled`, `Expected \`${path}.pooled\` to be a boolean, got ${describeValue(pooled)}`)
  return {
    client: client as PrismaClientLike,
    name,
    weight: checkNumber(`${path}.weight`, weight, 0, true),
    index,
    pooled: pooled as boolean,
    connection: checkConnection(`${path}.connection`, connection),
  }
}

function resolvePolicy(policy: unknown): RoutingPolicy {
  if (policy === undefined) return roundRobin()
  if (typeof policy === 'string') {
    const factory = (POLICIES as Record<string, (() => RoutingPolicy) | undefined>)[policy]
    if (factory) return factory()
  } else if (isObject(policy) && typeof policy.pick === 'function') {
    if (typeof policy.name !== 'string' || policy.name === '') {
      fail('policy.name', `Expected \`policy.name\` to be a non-empty string, got ${describeValue(policy.name)}`)
    }
    return policy as unknown as RoutingPolicy
  }
  return fail(
    'policy',
    `Expected \`policy\` to be one of ${Object.keys(POLICIES)
      .map((k) => `\`${k}\``)
      .join(', ')} or a RoutingPolicy ({ name, pick }), got ${describeValue(policy)}`,
  )
}

function resolveSticky(sticky: unknown): ResolvedOptions['sticky'] {
  if (sticky === false) return false
  if (sticky !== undefined && !isObject(sticky)) {
    return fail('sticky', `Expected \`sticky\` to be \`false\` or { mode, windowMs, monotonic, waitMs }, got ${describeValue(sticky)}`)
  }
  const { mode = sticky?.windowMs === undefined ? DEFAULT_STICKY_MODE : 'window', windowMs, monotonic, waitMs } = resolveObject('sticky', sticky, STICKY_KEYS)
  if (mode === 'lsn') {
    if (windowMs !== undefined) fail('sticky.windowMs', "`sticky.windowMs` applies to `mode: 'window'` only, not to `mode: 'lsn'`")
    if (monotonic !== undefined && typeof monotonic !== 'boolean') {
      fail('sticky.monotonic', `Expected \`sticky.monotonic\` to be a boolean, got ${describeValue(monotonic)}`)
    }
    return { mode: 'lsn', monotonic: monotonic !== false, waitMs: waitMs === undefined ? 0 : checkNumber('sticky.waitMs', waitMs, 0, false) }
  }
  if (mode !== 'window') {
    return fail('sticky.mode', `Expected \`sticky.mode\` to be \`lsn\` or \`window\`, got ${describeValue(mode)}`)
  }
  if (monotonic !== undefined) fail('sticky.monotonic', "`sticky.monotonic` applies to `mode: 'lsn'` only, not to `mode: 'window'`")
  if (waitMs !== undefined) fail('sticky.waitMs', "`sticky.waitMs` applies to `mode: 'lsn'` only, not to `mode: 'window'`")
  return { mode: 'window', windowMs: windowMs === undefined ? 2000 : checkNumber('sticky.windowMs', windowMs, 0, false) }
}

/** A finite number >= `min` (or > `min` when `exclusive`), else an InvalidOptionError naming `path`. */
function checkNumber(path: string, value: unknown, min: number, exclusive: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (exclusive ? value <= min : value < min)) {
    fail(path, `Expected \`${path}\` to be a finite number ${exclusive ? '>' : '>='} ${String(min)}, got ${describeValue(value)}`)
  }
  return value as number
}

function resolveObject(path: string, value: unknown, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {}
  if (!isObject(value)) {
    return fail(path, `Expected \`${path}\` to be an object with ${keys.map((k) => `\`${k}\``).join(' or ')}, got ${describeValue(value)}`)
  }
  checkKeys(`${path}.`, value, keys)
  return value
}

function resolveMaxLag(value: unknown): ResolvedOptions['maxLag'] {
  const { ms, bytes } = resolveObject('maxLag', value, MAX_LAG_KEYS)
  if (value !== undefined && ms === undefined && bytes === undefined) {
    fail('maxLag', 'Expected `maxLag` to set `ms`, `bytes` or both, got an empty object')
  }
  return {
    ms: ms === undefined ? undefined : checkNumber('maxLag.ms', ms, 0, true),
    bytes: bytes === undefined ? undefined : checkNumber('maxLag.bytes', bytes, 0, true),
  }
}

function resolveHealth(value: unknown): ResolvedOptions['health'] {
  const { intervalMs = 1000, timeoutMs = 1000, idleAfterMs = 10_000, wakeTimeoutMs = 10_000 } = resolveObject('health', value, HEALTH_KEYS)
  return {
    intervalMs: checkNumber('health.intervalMs', intervalMs, 10, false),
    timeoutMs: checkNumber('health.timeoutMs', timeoutMs, 0, true),
    idleAfterMs: idleAfterMs === false ? false : checkNumber('health.idleAfterMs', idleAfterMs, 0, false),
    wakeTimeoutMs: checkNumber('health.wakeTimeoutMs', wakeTimeoutMs, 0, true),
  }
}

function resolveRules(value: unknown, replicas: readonly ResolvedReplica[]): ResolvedOptions['rules'] {
  const rules = new Map<string, string | RoutingPolicy>()
  if (value === undefined) return rules
  if (!isObject(value)) return fail('rules', `Expected \`rules\` to be an object of model name -> rule, got ${describeValue(value)}`)
  for (const [model, rule] of Object.entries(value)) {
    const path = `rules.${model}`
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(model)) fail(path, `Expected a model name as the key of \`rules\`, got ${describeValue(model)}`)
    if (rule === undefined) continue // a rule left out (exactOptionalPropertyTypes: as if absent)
    if (rule === 'primary' || (typeof rule === 'string' && replicas.some((r) => r.name === rule))) rules.set(model, rule)
    else if (isObject(rule) && typeof rule.pick === 'function' && typeof rule.name === 'string' && rule.name !== '') {
      rules.set(model, rule as unknown as RoutingPolicy)
    } else {
      fail(path, `Expected \`${path}\` to be \`primary\`, a replica name (${replicas.map((r) => `\`${r.name}\``).join(', ')}) or a RoutingPolicy, got ${describeValue(rule)}`)
    }
  }
  return rules
}

function checkFunction(path: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') {
    fail(path, `Expected \`${path}\` to be a function, got ${describeValue(value)}`)
  }
}

/** A MariaDB / MySQL connection URL, or `undefined`. The value is never echoed (it carries a password). */
function checkConnection(path: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !/^(mysql|mariadb):\/\/[^/]/i.test(value)) {
    return fail(
      path,
      `Expected \`${path}\` to be a \`mysql://\` or \`mariadb://\` connection URL, got ${typeof value === 'string' ? `a string of ${String(value.length)} characters` : describeValue(value)}`,
    )
  }
  try {
    new URL(value)
  } catch {
    return fail(path, `Expected \`${path}\` to be a \`mysql://\` or \`mariadb://\` connection URL; it does not parse as a URL (${String(value.length)} characters)`)
  }
  return value
}

/** Validates every option up front and applies defaults. Throws {@link InvalidOptionError}. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (!isObject(options)) {
    return fail('options', `Expected options to be an object with \`replicas\`, got ${describeValue(options)}`)
  }
  checkKeys('', options, OPTION_KEYS)
  const { replicas, onRoute } = options
  if (replicas === undefined || (Array.isArray(replicas) && replicas.length === 0)) {
    fail('replicas', 'At least one replica must be specified: `replicas` is empty')
  }
  if (!Array.isArray(replicas)) {
    return fail('replicas', `Expected \`replicas\` to be an array, got ${describeValue(replicas)}`)
  }
  const resolved = replicas.map(resolveReplica)
  const seen = new Set<string>()
  for (const replica of resolved) {
    if (seen.has(replica.name)) {
      fail(`replicas[${String(replica.index)}].name`, `Duplicate replica name \`${replica.name}\`: names must be unique`)
    }
    seen.add(replica.name)
  }
  const { fallback = 'primary', readTimeoutMs = 10_000, onHealthChange, raw = 'primary' } = options
  checkFunction('onRoute', onRoute)
  checkFunction('onHealthChange', onHealthChange)
  if (fallback !== 'primary' && fallback !== 'error') {
    fail('fallback', `Expected \`fallback\` to be \`primary\` or \`error\`, got ${describeValue(fallback)}`)
  }
  if (raw !== 'primary' && raw !== 'classify') fail('raw', `Expected \`raw\` to be \`primary\` or \`classify\`, got ${describeValue(raw)}`)
  return {
    replicas: resolved,
    policy: resolvePolicy(options.policy),
    sticky: resolveSticky(options.sticky),
    onRoute: onRoute as ResolvedOptions['onRoute'],
    maxLag: resolveMaxLag(options.maxLag),
    fallback: fallback as 'primary' | 'error',
    health: resolveHealth(options.health),
    readTimeoutMs: readTimeoutMs === false ? false : checkNumber('readTimeoutMs', readTimeoutMs, 0, true),
    onHealthChange: onHealthChange as ResolvedOptions['onHealthChange'],
    rules: resolveRules(options.rules, resolved),
    primaryConnection: checkConnection('primaryConnection', options.primaryConnection),
    raw: raw as 'primary' | 'classify',
  }
}
