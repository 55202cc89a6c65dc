/**
 * Runs the differential tester's cases: each case's reads through the routed client (the router between the
 * stack's extensions) and through a plain client carrying the same extensions in the same order, both over the
 * real cluster; answers must be deep-equal (Decimal, Date, BigInt, bytes, key order included) and errors equal
 * (class, code, message). The seed and the shrunk case are printed on a mismatch (fast-check).
 */
import { PrismaPg } from '@prisma/adapter-pg'
import fc from 'fast-check'
import pg from 'pg'
import { Prisma, PrismaClient } from '../../../generated/prisma/client.ts'
import { readReplicas, runInScope, type RouteEvent } from '../../../src/index.ts'
import { formatLsn, parseLsn, PRIMARY_LSN_SQL } from '../../../src/dialects/postgresql.ts'
import { INTERNALS_WARNING } from '../../../src/prisma/self-check.ts'
import { caseOf, DATA, type Case, type Query, type Read, type Write } from './arbitraries.ts'
import { seedDataset } from './dataset.ts'
import { applyLayers } from './extensions.ts'
import { MODELS, type ModelName } from './schema.ts'

export interface DifferentialTarget {
  readonly primaryUrl: string
  readonly replicas: readonly { readonly name: string; readonly url: string }[]
  /** Waits until every replica has replayed what the primary wrote so far (after a case's writes). */
  readonly waitForReplication: () => Promise<void>
}

/** The tester calls models and operations by name. */
type Dynamic = any

/** A value as plain data, for deep comparison: key order kept; Decimal, Date, BigInt and bytes tagged. */
export function canonical(value: unknown): unknown {
  if (value === undefined) return { $undefined: true }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') return Number.isNaN(value) ? { $number: 'NaN' } : Object.is(value, -0) ? { $number: '-0' } : value
  if (typeof value === 'bigint') return { $bigint: String(value) }
  if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString() }
  if (Prisma.Decimal.isDecimal(value)) return { $decimal: value.toFixed() }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') }
  if (Array.isArray(value)) return value.map(canonical)
  if (typeof value === 'object') return Object.keys(value).map((key) => [key, canonical((value as Record<string, unknown>)[key])])
  return { $other: typeof value }
}

/** What a read gave: its answer, or its error as the application sees it. */
type Outcome = { readonly ok: unknown } | { readonly error: { readonly class: string; readonly code: unknown; readonly message: string } }

/**
 * A message as compared: a panic's report ends with a link that carries the engine's recent log (other queries of
 * each client), which is not the query's.
 */
const comparable = (message: string): string => message.replace(/https:\/\/github\.com\/prisma\/prisma\/issues\/new\?body=\S*/, '<issue link>')

async function outcome(run: () => unknown): Promise<Outcome> {
  try {
    return { ok: canonical(await run()) }
  } catch (error) {
    const e = error as { constructor?: { name?: string }; code?: unknown; message?: unknown }
    return { error: { class: e.constructor?.name ?? typeof error, code: e.code, message: comparable(typeof e.message === 'string' ? e.message : String(error)) } }
  }
}

/**
 * `value`, the rows of a read of `model` with `args`, with every relation list read without `orderBy` sorted:
 * SQL gives such a list no order, and the primary and a replica may plan its query differently (the tester met a
 * replica's answer in id order, an index scan's, where the primary's was in physical order, a sequential scan's).
 * Those lists are compared as sets; every other order stays compared.
 */
function sortUnordered(value: unknown, model: ModelName, args: unknown, unorderedList = false): unknown {
  if (Array.isArray(value)) {
    const rows = value.map((row) => sortUnordered(row, model, args))
    return unorderedList ? rows.sort((a, b) => compareText(JSON.stringify(canonical(a)), JSON.stringify(canonical(b)))) : rows
  }
  if (typeof value !== 'object' || value === null || value instanceof Date || value instanceof Uint8Array || Prisma.Decimal.isDecimal(value)) return value
  const given = (typeof args === 'object' && args !== null ? args : {}) as { select?: Record<string, unknown>; include?: Record<string, unknown> }
  const row = { ...(value as Record<string, unknown>) }
  for (const relation of MODELS[model].relations) {
    const relationArgs = given.select?.[relation.name] ?? given.include?.[relation.name]
    if (relationArgs === undefined || relationArgs === false || !(relation.name in row)) continue
    const unordered = relation.list && (relationArgs === true || (relationArgs as { orderBy?: unknown }).orderBy === undefined)
    row[relation.name] = sortUnordered(row[relation.name], relation.model, relationArgs, unordered)
  }
  return row
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The answer of `q` with its unordered relation lists sorted ({@link sortUnordered}). */
function sortAnswer(q: Query, value: unknown): unknown {
  if (!q.fluent) return sortUnordered(value, q.model, q.args)
  const relation = MODELS[q.model].relations.find((r) => r.name === q.fluent?.relation)
  if (!relation) return value
  const args = q.fluent.args as { orderBy?: unknown } | undefined
  return sortUnordered(value, relation.model, args, relation.list && args?.orderBy === undefined)
}

function send(client: Dynamic, q: Query): unknown {
  const delegate = client[MODELS[q.model].property]
  if (q.fluent) {
    const found = delegate[q.operation](q.args)
    return q.fluent.args === undefined ? found[q.fluent.relation]() : found[q.fluent.relation](q.fluent.args)
  }
  return delegate[q.operation](q.args)
}

/** The write of a `scope-after-write` read, through the routed side (`base`: the client under the router). */
function doWrite(routed: Dynamic, base: Dynamic, w: Write): PromiseLike<unknown> {
  const property = MODELS[w.model].property
  const args = { where: { id: w.id }, data: w.data }
  switch (w.path) {
    case 'routed':
      return routed[property].update(args)
    case 'base':
      return base[property].update(args)
    case 'primary':
      return routed.$primary()[property].update(args)
    case 'interactive':
      return routed.$transaction((tx: Dynamic) => tx[property].update(args))
    case 'batch':
      return routed.$transaction([routed[property].update(args)])
  }
}

/** Runs `read` through the routed client (`routed: true`) or the control, as its entry point says; its answer with unordered relation lists sorted. */
async function through(read: Read, client: Dynamic, routed: boolean): Promise<unknown> {
  const answer = await sent(read, client, routed)
  switch (read.entry) {
    case 'batch': {
      const [first, second] = answer as [unknown, unknown]
      return [sortAnswer(read.query, first), sortAnswer(read.second ?? read.query, second)]
    }
    case 'model-method':
    case 'client-method':
    case 'captured-reader':
      return answer
    default:
      return sortAnswer(read.query, answer)
  }
}

function sent(read: Read, client: Dynamic, routed: boolean): unknown {
  const q = read.query
  switch (read.entry) {
    case 'routed':
    case 'fluent':
    case 'scope-after-write':
      return send(client, q)
    case 'replica':
      return send(routed ? client.$replica() : client, q)
    case 'primary':
      return send(routed ? client.$primary() : client, q)
    case 'batch':
      return client.$transaction([send(client, q), send(client, read.second ?? q)])
    case 'interactive':
      return client.$transaction((tx: Dynamic) => send(tx, q))
    case 'replica-transaction':
      return (routed ? client.$replica() : client).$transaction((tx: Dynamic) => send(tx, q))
    case 'model-method':
      return client.member.byHandle(q.args)
    case 'client-method':
      return client.$ratingsOf(q.args)
    case 'captured-reader':
      return client.article.recentOf(q.args)
  }
}

export interface Mismatch {
  readonly read: Read
  readonly routed: Outcome
  readonly control: Outcome
  readonly routes: readonly string[]
}

export interface CaseStats {
  reads: number
  onReplicas: number
  errors: number
}

/** JSON with BigInt, Decimal, Date and bytes shown. */
export function show(value: unknown, max = 4000): string {
  if (value === undefined) return 'undefined'
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return `${String(v)}n`
    if (v instanceof Uint8Array) return `bytes(${[...v].join(',')})`
    if (Prisma.Decimal.isDecimal(v)) return `Decimal(${v.toFixed()})`
    if (v === Prisma.DbNull) return 'Prisma.DbNull'
    return v
  })
  return text.length > max ? `${text.slice(0, max)}…` : text
}

/**
 * Runs one case on fresh clients (the stack's extensions, the global `omit`, the error format), and
 * returns its first mismatch, if any.
 */
export async function runCase(target: DifferentialTarget, c: Case, stats: CaseStats): Promise<Mismatch | undefined> {
  const options = (url: string) => ({ adapter: new PrismaPg({ connectionString: url }), errorFormat: c.errorFormat, ...(c.omit ? { omit: c.omit } : {}) })
  const base = new PrismaClient(options(target.primaryUrl))
  const replicas = target.replicas.map((r) => ({ client: new PrismaClient(options(r.url)), name: r.name }))
  const plain = new PrismaClient(options(target.primaryUrl))
  const events: RouteEvent[] = []
  const router = readReplicas({ replicas, onRoute: (e) => events.push(e) })
  const routed: Dynamic = applyLayers(applyLayers(base as Dynamic, c.layers, 'before').$extends(router), c.layers, 'after')
  const control: Dynamic = applyLayers(applyLayers(plain as Dynamic, c.layers, 'before'), c.layers, 'after')
  try {
    for (const read of c.reads) {
      const from = events.length
      // A plain client never changes the arguments it was given (each callback gets its own copy).
      const given = JSON.stringify(canonical(read))
      let actual: Outcome
      if (read.entry === 'scope-after-write' && read.write) {
        const write = read.write
        actual = await outcome(() =>
          runInScope(async () => {
            await doWrite(routed, base, write)
            return await through(read, routed, true)
          }),
        )
      } else {
        actual = await outcome(() => through(read, routed, true))
      }
      const after = JSON.stringify(canonical(read))
      if (after !== given) actual = { error: { class: 'ArgumentsChanged', code: undefined, message: `the routed client changed the caller's arguments to ${after}` } }
      const expected = await outcome(() => through(read, control, false))
      const routes = events.slice(from).map((e) => `${e.operation} ${e.target}${e.replica === undefined ? '' : `:${e.replica}`} ${e.reason}`)
      stats.reads += 1
      if ('error' in expected) stats.errors += 1
      if (routes.some((r) => r.includes(' replica'))) stats.onReplicas += 1
      if (JSON.stringify(actual) !== JSON.stringify(expected)) return { read, routed: actual, control: expected, routes }
      if (read.write) await target.waitForReplication()
    }
    return undefined
  } finally {
    await Promise.all([(routed as { $disconnect(): Promise<void> }).$disconnect(), plain.$disconnect()])
  }
}

/** The role the tester's clients connect as: a row-level policy binds it (the seeding role, a superuser, it never binds). */
export const TESTER_ROLE = 'prr_differential'

/**
 * The row-level policy the `row-level` ingredient's tenant selects with (test/support/differential/extensions.ts):
 * without `app.tenant` every article, with it the tenant's. A read that ran apart from the `set_config` its
 * extension batched it with would see every tenant's articles.
 */
const TENANT_POLICY = `CREATE POLICY prr_differential_tenant ON "Article" TO ${TESTER_ROLE}
  USING (coalesce(current_setting('app.tenant', true), '') = '' OR tenant = current_setting('app.tenant', true)) WITH CHECK (true)`

/** `url` with the tester's role as its user (no password: the local cluster trusts loopback). */
function asTesterRole(url: string): string {
  const parsed = new URL(url)
  parsed.username = TESTER_ROLE
  parsed.password = ''
  return parsed.toString()
}

/**
 * Seeds the tester's tables on the primary, creates the tester's role and the tenant policy, and waits until the
 * replicas have them. Returns the target the tester's clients use: as that role, where it can connect (the local
 * clusters); else (a server that asks the role for a password) the given one, with `rowLevel: false` — the policy
 * then binds no client (the suite's and `npm run fuzz`'s clusters always bind it).
 */
export async function prepare(target: DifferentialTarget): Promise<DifferentialTarget & { readonly rowLevel: boolean }> {
  const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: target.primaryUrl }) })
  try {
    await seedDataset(client as Dynamic, DATA)
    for (const statement of [
      `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${TESTER_ROLE}') THEN CREATE ROLE ${TESTER_ROLE} LOGIN NOSUPERUSER; END IF; END $$`,
      `GRANT USAGE ON SCHEMA public TO ${TESTER_ROLE}`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${TESTER_ROLE}`,
      `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${TESTER_ROLE}`,
      'ALTER TABLE "Article" ENABLE ROW LEVEL SECURITY',
      'DROP POLICY IF EXISTS prr_differential_tenant ON "Article"',
      TENANT_POLICY,
    ]) {
      await client.$executeRawUnsafe(statement)
    }
  } finally {
    await client.$disconnect()
  }
  await target.waitForReplication()
  const asRole = { ...target, primaryUrl: asTesterRole(target.primaryUrl), replicas: target.replicas.map((r) => ({ name: r.name, url: asTesterRole(r.url) })) }
  const probe = new PrismaClient({ adapter: new PrismaPg({ connectionString: asRole.primaryUrl }) })
  try {
    await probe.$queryRawUnsafe('SELECT 1')
    return { ...asRole, rowLevel: true }
  } catch {
    return { ...target, rowLevel: false }
  } finally {
    await probe.$disconnect()
  }
}

export interface DifferentialOptions {
  readonly seed: number
  /** Property runs (each: fresh clients, one stack, `minReads`..`maxReads` reads). */
  readonly runs: number
  readonly minReads?: number
  readonly maxReads?: number
  /** Stop after this long (ms), counting what ran. */
  readonly timeLimitMs?: number
  /** Shrink a failing case to a minimal one (fast-check); `false`: stop at the first failure. @default true */
  readonly shrink?: boolean
  readonly log?: (line: string) => void
}

export interface DifferentialResult {
  readonly seed: number
  readonly runs: number
  readonly stats: CaseStats
  /** fast-check's report of the first failure (seed, path, shrunk counterexample), or undefined. */
  readonly failure: string | undefined
  /** The runs and cases (reads compared) up to and including the first failure, before any shrinking. */
  readonly firstFailure: { readonly runs: number; readonly cases: number } | undefined
}

/**
 * Waits until every replica has replayed the primary's WAL insert position, on one connection per server kept
 * for the whole run: `target.waitForReplication` (the test kit's) connects to each server every time, which took
 * 100–200 ms a wait here, a fifth of the tester's time. Falls back to it when a connection fails.
 */
class ReplayWaiter {
  private clients: Promise<pg.Client[]> | undefined

  constructor(private readonly target: DifferentialTarget) {}

  async wait(): Promise<void> {
    try {
      const [primary, ...replicas] = await (this.clients ??= this.connect())
      if (!primary) return
      const { rows } = await primary.query<{ lsn: string; header: number }>(PRIMARY_LSN_SQL)
      const row = rows[0]
      const target = row ? formatLsn(parseLsn(row.lsn) - BigInt(row.header)) : '0/0'
      const deadline = performance.now() + 15_000
      await Promise.all(
        replicas.map(async (client) => {
          for (;;) {
            const { rows: at } = await client.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [target])
            if (at[0]?.ok) return
            if (performance.now() > deadline) throw new Error(`a replica did not replay up to ${target} within 15 s`)
            await new Promise((resolve) => setTimeout(resolve, 1))
          }
        }),
      )
    } catch {
      await this.close()
      await this.target.waitForReplication()
    }
  }

  async close(): Promise<void> {
    const clients = this.clients
    this.clients = undefined
    await Promise.all((await clients?.catch(() => []))?.map((c) => c.end().catch(() => undefined)) ?? [])
  }

  private async connect(): Promise<pg.Client[]> {
    return await Promise.all(
      [this.target.primaryUrl, ...this.target.replicas.map((r) => r.url)].map(async (url) => {
        const client = new pg.Client({ connectionString: url })
        client.on('error', () => undefined)
        await client.connect()
        return client
      }),
    )
  }
}

/** The property: no case's reads differ between the routed client and the control. */
export async function runDifferential(target: DifferentialTarget, options: DifferentialOptions): Promise<DifferentialResult> {
  const stats: CaseStats = { reads: 0, onReplicas: 0, errors: 0 }
  let runs = 0
  let firstFailure: DifferentialResult['firstFailure']
  // The router's self-check (src/prisma/self-check.ts) warns when an internal is not as expected: on a Prisma
  // release the router supports, that is a failure too, whatever the answers.
  const internals: string[] = []
  const onWarning = (warning: Error & { code?: string }) => {
    if (warning.code === INTERNALS_WARNING) internals.push(warning.message)
  }
  process.on('warning', onWarning)
  const waiter = new ReplayWaiter(target)
  const waiting: DifferentialTarget = { ...target, waitForReplication: () => waiter.wait() }
  const property = fc.asyncProperty(caseOf(options.minReads ?? 5, options.maxReads ?? 25), async (c) => {
    runs += 1
    const failed = (message: string): never => {
      firstFailure ??= { runs, cases: stats.reads }
      throw new Error(message)
    }
    const mismatch = await runCase(waiting, c, stats)
    if (internals.length > 0) failed(`the router's self-check found an internal not as expected:\n  ${internals.join('\n  ')}`)
    if (runs % 50 === 0) options.log?.(`${String(runs)} runs, ${String(stats.reads)} cases (${String(stats.onReplicas)} on replicas, ${String(stats.errors)} errors)`)
    if (mismatch) {
      failed(
        [
          `the routed client answered otherwise than a plain client with the same extensions`,
          `  stack: ${show(c.layers)}; omit: ${show(c.omit)}; errorFormat: ${c.errorFormat}`,
          `  read: ${show(mismatch.read)}`,
          `  routes: ${mismatch.routes.join(', ') || '(none)'}`,
          `  routed:  ${show(mismatch.routed, 1500)}`,
          `  control: ${show(mismatch.control, 1500)}`,
        ].join('\n'),
      )
    }
  })
  try {
    const result = await fc.check(property, {
      seed: options.seed,
      numRuns: options.runs,
      endOnFailure: options.shrink === false,
      ...(options.timeLimitMs === undefined ? {} : { interruptAfterTimeLimit: options.timeLimitMs, markInterruptAsFailure: false }),
    })
    const error = result.errorInstance instanceof Error ? `\n${result.errorInstance.message}` : ''
    return { seed: options.seed, runs, stats, failure: result.failed ? `${fc.defaultReportMessage(result) ?? 'failed'}${error}` : undefined, firstFailure }
  } finally {
    process.off('warning', onWarning)
    await waiter.close()
  }
}
