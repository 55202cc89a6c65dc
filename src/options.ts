import { describeValue } from './describe-value.js'
import { InvalidOptionError } from './errors.js'
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
  $connect(): Promise<void>
  $disconnect(): Promise<void>
  $extends: unknown
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
  readonly name?: string
  /**
   * Share of reads relative to the other replicas, for the `weighted` policy (and custom policies).
   * A finite number > 0.
   * @default 1
   * @example 2
   */
  readonly weight?: number
}

/** Name of a built-in routing policy. */
export type PolicyName = 'round-robin' | 'random' | 'weighted' | 'least-in-flight'

/** Read-your-writes by a fixed window after each write. */
export interface StickyOptions {
  /**
   * After a write, raw query or transaction, reads in the same scope go to the primary for this many
   * milliseconds. A finite number >= 0; `0` never pins a scope.
   * @default 2000
   * @example { windowMs: 5000 }
   */
  readonly windowMs?: number
}

/** Options of `readReplicas()`. */
export interface ReadReplicasOptions {
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
  readonly policy?: PolicyName | RoutingPolicy
  /**
   * Read-your-writes: after a write in a scope (see `runInScope`), that scope's reads go to the primary for
   * `windowMs`. `false` turns it off: reads always go to replicas and may not see the scope's own writes yet.
   * @default { windowMs: 2000 }
   * @example false
   */
  readonly sticky?: StickyOptions | false
  /**
   * Called synchronously with every routing decision, before the query runs. Exceptions it throws are
   * caught and reported as a process warning; they never fail the query.
   * @default undefined
   * @example (event) => console.log(event.model, event.operation, '->', event.replica ?? event.target, event.reason)
   */
  readonly onRoute?: (event: RouteEvent) => void
}

/** A replica after validation. */
export interface ResolvedReplica {
  readonly client: PrismaClientLike
  readonly name: string
  readonly weight: number
  readonly index: number
}

/** Options after validation, with defaults applied. */
export interface ResolvedOptions {
  readonly replicas: readonly ResolvedReplica[]
  readonly policy: RoutingPolicy
  readonly windowMs: number | false
  readonly onRoute: ((event: RouteEvent) => void) | undefined
}

const OPTION_KEYS = ['replicas', 'policy', 'sticky', 'onRoute'] as const
const REPLICA_KEYS = ['client', 'name', 'weight'] as const
const STICKY_KEYS = ['windowMs'] as const
const POLICIES: Record<PolicyName, () => RoutingPolicy> = {
  'round-robin': roundRobin,
  random: () => random(),
  weighted,
  'least-in-flight': leastInFlight,
}

const fail = (option: string, message: string): never => {
  throw new InvalidOptionError(option, message)
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** Structural check: the three methods every PrismaClient (plain, extended) has. */
export function isPrismaClientLike(value: unknown): value is PrismaClientLike {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  const v = value as Record<string, unknown>
  return typeof v.$connect === 'function' && typeof v.$disconnect === 'function' && typeof v.$extends === 'function'
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
  if (isPrismaClientLike(entry)) return { client: entry, name: `replica-${String(index + 1)}`, weight: 1, index }
  if (!isObject(entry)) {
    return fail(path, `Expected \`${path}\` to be a PrismaClient or { client, name?, weight? }, got ${describeValue(entry)}`)
  }
  checkKeys(`${path}.`, entry, REPLICA_KEYS)
  const { client, name = `replica-${String(index + 1)}`, weight = 1 } = entry
  if (!isPrismaClientLike(client)) {
    fail(`${path}.client`, `Expected \`${path}.client\` to be a PrismaClient, got ${describeValue(client)}`)
  }
  if (typeof name !== 'string' || !/^[\w.:-]{1,64}$/.test(name)) {
    fail(
      `${path}.name`,
      `Expected \`${path}.name\` to be 1-64 characters of letters, digits, _ . : -, got ${describeValue(name)}`,
    )
  }
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    fail(`${path}.weight`, `Expected \`${path}.weight\` to be a finite number > 0, got ${describeValue(weight)}`)
  }
  return { client: client as PrismaClientLike, name: name as string, weight: weight as number, index }
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

function resolveWindow(sticky: unknown): number | false {
  if (sticky === undefined) return 2000
  if (sticky === false) return false
  if (!isObject(sticky)) {
    return fail('sticky', `Expected \`sticky\` to be \`false\` or { windowMs }, got ${describeValue(sticky)}`)
  }
  checkKeys('sticky.', sticky, STICKY_KEYS)
  const { windowMs = 2000 } = sticky
  if (typeof windowMs !== 'number' || !Number.isFinite(windowMs) || windowMs < 0) {
    fail('sticky.windowMs', `Expected \`sticky.windowMs\` to be a finite number >= 0, got ${describeValue(windowMs)}`)
  }
  return windowMs as number
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
  if (onRoute !== undefined && typeof onRoute !== 'function') {
    fail('onRoute', `Expected \`onRoute\` to be a function, got ${describeValue(onRoute)}`)
  }
  return {
    replicas: resolved,
    policy: resolvePolicy(options.policy),
    windowMs: resolveWindow(options.sticky),
    onRoute: onRoute as ResolvedOptions['onRoute'],
  }
}
