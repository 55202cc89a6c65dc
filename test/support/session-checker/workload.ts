import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { adapterFor } from '../driver.ts'
import { PrismaClient as MariaClient } from '../../../generated/mysql/client.ts'
import { PrismaClient } from '../../../generated/prisma/client.ts'
import { readReplicas, runInScope, type RouteEvent } from '../../../src/index.ts'
import { errorCode, type History, type Operation, type OperationKind, type ReadFact, type WriteEffect } from './history.ts'
import { applyStack, HIDDEN, NO_STACK, Stack, tagOf, type StackMethods } from './stacks.ts'

/** mulberry32: a small seeded PRNG. */
export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[Math.floor(this.next() * items.length)] as T
  }

  /** An independent generator for sub-task `index` (sessions, faults). */
  fork(index: number): Rng {
    return new Rng(Math.imul(this.state ^ Math.imul(index + 1, 0x9e3779b1), 0x85ebca6b) ^ index)
  }
}

export function newClient(url: string): PrismaClient {
  return new PrismaClient({ adapter: adapterFor(url) })
}

/** The database engine a session check runs on. */
export type Engine = 'postgresql' | 'mariadb'

function routedPostgres(
  primaryUrl: string,
  replicas: readonly { readonly name: string; readonly url: string; readonly pooled?: boolean }[],
  onRoute: (event: RouteEvent) => void,
  readTimeoutMs: number,
  waitMs = 0,
  stack: Stack = NO_STACK,
) {
  const base = applyStack(newClient(primaryUrl), stack, 'before')
  const replicaClients = replicas.map((r) => ({ client: newClient(r.url), name: r.name, pooled: r.pooled ?? false }))
  return applyStack(base.$extends(readReplicas({ replicas: replicaClients, sticky: { mode: 'lsn', waitMs }, readTimeoutMs, onRoute, raw: 'classify' })), stack, 'after')
}

export type Routed = ReturnType<typeof routedPostgres>

/**
 * One app instance: a primary client and replica clients, extended with the router in LSN mode (PostgreSQL: with
 * `raw: 'classify'`, so that raw reads are routed too; reads waiting
 * up to `waitMs` for a replica to replay the scope's writes), between the extensions of `stack`. On MariaDB, the
 * clients of prisma/mysql/schema.prisma (the same `Cell` model), typed as the PostgreSQL ones for the workload.
 */
export function routedInstance(
  primaryUrl: string,
  replicas: readonly { readonly name: string; readonly url: string; readonly pooled?: boolean }[],
  onRoute: (event: RouteEvent) => void,
  readTimeoutMs: number,
  engine: Engine = 'postgresql',
  waitMs = 0,
  stack: Stack = NO_STACK,
): Instance {
  if (engine === 'postgresql') return { prisma: routedPostgres(primaryUrl, replicas, onRoute, readTimeoutMs, waitMs, stack), stack }
  const client = (url: string) => new MariaClient({ adapter: new PrismaMariaDb(`${url}?connectionLimit=6`) })
  const replicaClients = replicas.map((r) => ({ client: client(r.url), name: r.name, pooled: r.pooled ?? false, connection: r.url }))
  const routed = applyStack(client(primaryUrl), stack, 'before').$extends(
    readReplicas({ replicas: replicaClients, primaryConnection: primaryUrl, sticky: { mode: 'lsn', waitMs }, readTimeoutMs, onRoute }),
  )
  return { prisma: applyStack(routed, stack, 'after') as unknown as Routed, stack }
}

/**
 * Whether this Prisma release gives a fluent read's rows a result extension's computed fields, asked of a plain
 * client (no router) with the stack's computed field: Prisma 7.0.0 does not (`findUnique(…).children()` has no
 * `tag` on a plain client either), later releases do. The checker holds the router to what Prisma does.
 */
export async function fluentComputesFields(primaryUrl: string, engine: Engine, tag: string): Promise<boolean> {
  const plain = plainClient(primaryUrl, engine)
  const client = applyStack(plain, new Stack([{ ingredient: 'computed-tag', position: 'before' }]), 'before')
  const owner = `${tag}:probe`
  try {
    await client.cell.create({ data: { id: `${tag}-probe-parent`, owner } })
    await client.cell.create({ data: { id: `${tag}-probe-child`, owner, parentId: `${tag}-probe-parent` } })
    const children = await client.cell.findUnique({ where: { id: `${tag}-probe-parent` } }).children({ select: SELECT_TAG })
    const [child] = children ?? []
    if (!child) throw new Error('the fluent probe read no child')
    return (child as { tag?: unknown }).tag === tagOf(child)
  } finally {
    await client.cell.deleteMany({ where: { owner, parentId: { not: null } } })
    await client.cell.deleteMany({ where: { owner } })
    await plain.$disconnect()
  }
}

/** A client with no router and no extension (on MariaDB, typed as the PostgreSQL one). */
export function plainClient(url: string, engine: Engine): PrismaClient {
  return engine === 'postgresql' ? newClient(url) : (new MariaClient({ adapter: new PrismaMariaDb(url) }) as unknown as PrismaClient)
}

/** The version of each row of the run (ids `<tag>-…`) on the primary, read by a plain client: the writes-once check. */
export async function finalVersions(primaryUrl: string, engine: Engine, tag: string): Promise<Map<string, number>> {
  const plain = plainClient(primaryUrl, engine)
  try {
    const rows = await plain.cell.findMany({ where: { id: { startsWith: `${tag}-` } }, select: { id: true, version: true } })
    return new Map(rows.map((row) => [row.id, row.version]))
  } finally {
    await plain.$disconnect()
  }
}

/** A router instance of the workload and the extension stack around its router. */
export interface Instance {
  readonly prisma: Routed
  readonly stack: Stack
}

const SELECT = { id: true, owner: true, version: true, parentId: true } as const
/** SELECT with the stack's computed field (typed as SELECT: the workload's client type has no extensions). */
const SELECT_TAG = { ...SELECT, tag: true } as unknown as typeof SELECT

interface Row {
  readonly id: string
  readonly owner: string
  readonly version: number
}

/** Live rows a session keeps at most (it deletes instead of creating beyond). */
const MAX_LIVE_ROWS = 40

/** Rows of one session (owner): only it creates and deletes them. */
interface Session {
  readonly owner: string
  readonly live: Map<string, { parentId: string | null; children: number }>
  readonly deleted: string[]
  readonly wide: boolean
  token: string | undefined
  tokenScope: string | undefined
  tokenOp: number | undefined
  lastInstance: number | undefined
  requests: number
}

interface Ctx {
  readonly rng: Rng
  readonly prisma: Routed
  readonly stack: Stack
  /** The request writes only through the stack's captured writer (reads and `bump`). */
  readonly capturedOnly: boolean
  readonly scope: string
  readonly instance: number
  readonly session: Session
}

export interface WorkloadOptions {
  /** Concurrent sessions (chains of scoped requests handing consistency tokens between instances). */
  readonly sessions: number
  /** Concurrent actors per instance outside `runInScope` (they share the router's client-wide scope). */
  readonly wideActors: number
  /** Operations per scoped request. */
  readonly opsPerRequest: readonly [number, number]
  /** `$primary().$transaction(fn)` operations. */
  readonly primaryTransactions: boolean
  /** Interactive transactions running `SET LOCAL synchronous_commit = off`. */
  readonly localSyncCommitOff: boolean
  /** Reads of the scope started while its interactive transaction is open. */
  readonly readsDuringTransactions: boolean
  /** The engine, for the raw SQL the workload sends (identifier quotes, placeholders). @default 'postgresql' */
  readonly engine?: Engine
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  sessions: 12,
  wideActors: 2,
  opsPerRequest: [3, 10],
  primaryTransactions: true,
  localSyncCommitOff: true,
  readsDuringTransactions: true,
}

const pause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref()
  })

/**
 * The randomized workload: sessions of scoped requests over two router instances (tokens handed between them),
 * plus actors sharing each instance's client-wide scope. Every operation is recorded in the history.
 */
export class Workload {
  private stopped = false
  private nextId = 0
  /** Static attributes of every row ever written (owner, parent): they never change. */
  private readonly statics = new Map<string, { owner: string; parentId: string | null }>()
  private readonly recent: string[] = []
  private readonly sessions: Session[] = []

  constructor(
    private readonly history: History,
    private readonly instances: readonly Instance[],
    private readonly rng: Rng,
    private readonly tag: string,
    private readonly options: WorkloadOptions = DEFAULT_WORKLOAD,
  ) {}

  /** Whether Prisma computes fields on fluent reads' rows ({@link fluentComputesFields}); when not, neither must the router. */
  fluentComputes = true

  /** Runs until {@link stop}; resolves when every actor finished its current request. */
  async run(): Promise<void> {
    const actors: Promise<void>[] = []
    for (let i = 0; i < this.options.sessions; i++) actors.push(this.session(i, this.rng.fork(i)))
    this.instances.forEach((_, instance) => {
      const session = this.newSession(`${this.tag}:wide${String(instance)}`, true)
      for (let a = 0; a < this.options.wideActors; a++) {
        actors.push(this.wideActor(instance, session, this.rng.fork(1000 + instance * 100 + a)))
      }
    })
    await Promise.all(actors)
  }

  stop(): void {
    this.stopped = true
  }

  private newSession(owner: string, wide: boolean): Session {
    const session: Session = {
      owner,
      live: new Map(),
      deleted: [],
      wide,
      token: undefined,
      tokenScope: undefined,
      tokenOp: undefined,
      lastInstance: undefined,
      requests: 0,
    }
    this.sessions.push(session)
    return session
  }

  private async session(index: number, rng: Rng): Promise<void> {
    const session = this.newSession(`${this.tag}:s${String(index)}`, false)
    while (!this.stopped) {
      const last = session.lastInstance
      const instance = last === undefined ? rng.int(0, this.instances.length - 1) : rng.chance(0.7) ? (last + 1) % this.instances.length : last
      session.lastInstance = instance
      // Some requests of an instance with a captured writer write only through it, and come without a token (a
      // visitor's first request): the router learns of their writes from the primary's engine alone.
      const capturedOnly = (this.instances[instance] as Instance).stack.has('captured-writer') && rng.chance(0.15)
      const token = !capturedOnly && session.token !== undefined && rng.chance(0.9) ? session.token : undefined
      session.requests += 1
      const scope = `${session.owner}/r${String(session.requests)}`
      this.history.addScope({
        id: scope,
        instance,
        session: session.owner,
        seededBy: token !== undefined && session.tokenScope !== undefined && session.tokenOp !== undefined ? { scope: session.tokenScope, tokenOp: session.tokenOp } : undefined,
        wide: false,
      })
      const ctx = this.ctx(rng, instance, scope, session, capturedOnly)
      await runInScope(
        async () => {
          const count = rng.int(...this.options.opsPerRequest)
          for (let i = 0; i < count && !this.stopped; i++) {
            await this.oneOp(ctx)
            if (rng.chance(0.3)) await pause(rng.int(1, 15))
          }
          if (rng.chance(0.85)) {
            const op = await this.record(ctx, 'token', '$consistencyToken()', async (o) => {
              o.token = await ctx.prisma.$consistencyToken()
            })
            session.token = op.ok ? op.token : undefined
            session.tokenScope = scope
            session.tokenOp = op.id
          } else {
            session.token = undefined
          }
        },
        { token },
      )
    }
  }

  private async wideActor(instance: number, session: Session, rng: Rng): Promise<void> {
    const scope = `${session.owner}@client-wide`
    this.history.addScope({ id: scope, instance, session: session.owner, seededBy: undefined, wide: true })
    const ctx = this.ctx(rng, instance, scope, session)
    while (!this.stopped) {
      await this.oneOp(ctx)
      if (rng.chance(0.3)) await pause(rng.int(1, 15))
    }
  }

  private ctx(rng: Rng, instance: number, scope: string, session: Session, capturedOnly = false): Ctx {
    const { prisma, stack } = this.instances[instance] as Instance
    return { rng, prisma, stack, scope, instance, session, capturedOnly }
  }

  private record(ctx: Ctx, kind: OperationKind, label: string, run: (op: Operation) => Promise<void>): Promise<Operation> {
    return this.history.record(ctx.scope, ctx.instance, kind, label, run)
  }

  // ---- row choice -------------------------------------------------------------------------------------------

  private freshId(): string {
    this.nextId += 1
    return `${this.tag}-${String(this.nextId)}`
  }

  /** The effect of creating a new row of the session (registered before the write is sent). */
  private intendCreate(session: Session, parentId: string | null = null): WriteEffect {
    const id = this.freshId()
    this.statics.set(id, { owner: session.owner, parentId })
    return { type: 'create', id, owner: session.owner, parentId, version: undefined }
  }

  private intend(type: 'update' | 'delete', id: string): WriteEffect {
    const s = this.statics.get(id) ?? { owner: '?', parentId: null }
    return { type, id, owner: s.owner, parentId: s.parentId, version: undefined }
  }

  private ownLive(ctx: Ctx): string | undefined {
    const ids = [...ctx.session.live.keys()]
    return ids.length === 0 ? undefined : ctx.rng.pick(ids)
  }

  /** Anyone's row; half the time one of the 16 newest (hot rows: concurrent updates, version races). */
  private foreign(ctx: Ctx): string | undefined {
    if (this.recent.length === 0) return undefined
    return ctx.rng.chance(0.5) ? ctx.rng.pick(this.recent.slice(-16)) : ctx.rng.pick(this.recent)
  }

  /** A row to update: the session's own (mostly) or any recent row (other sessions' rows: concurrency). */
  private updateTarget(ctx: Ctx): string | undefined {
    return ctx.rng.chance(0.65) ? (this.ownLive(ctx) ?? this.foreign(ctx)) : (this.foreign(ctx) ?? this.ownLive(ctx))
  }

  /** A row to read by id: own live, own deleted, or anyone's (or, with a tenant filter, a row it hides). */
  private readTarget(ctx: Ctx): string {
    if (ctx.stack.has('tenant-filter') && ctx.rng.chance(0.05)) return `${this.tag}-hidden-${String(ctx.rng.int(1, 3))}`
    const r = ctx.rng.next()
    const own = this.ownLive(ctx)
    if (r < 0.55 && own !== undefined) return own
    if (r < 0.7 && ctx.session.deleted.length > 0) return ctx.rng.pick(ctx.session.deleted)
    return this.foreign(ctx) ?? own ?? 'none'
  }

  private ownerToRead(ctx: Ctx): string {
    if (ctx.stack.has('tenant-filter') && ctx.rng.chance(0.04)) return `${this.tag}${HIDDEN}`
    if (ctx.rng.chance(0.8)) return ctx.session.owner
    return ctx.rng.pick(this.sessions).owner
  }

  private created(session: Session, effect: WriteEffect): void {
    session.live.set(effect.id, { parentId: effect.parentId, children: 0 })
    if (effect.parentId !== null) {
      const parent = session.live.get(effect.parentId)
      if (parent) parent.children += 1
    }
    this.recent.push(effect.id)
    if (this.recent.length > 400) this.recent.shift()
  }

  private deleted(session: Session, effect: WriteEffect): void {
    session.live.delete(effect.id)
    session.deleted.push(effect.id)
    if (session.deleted.length > 50) session.deleted.shift()
    if (effect.parentId !== null) {
      const parent = session.live.get(effect.parentId)
      if (parent) parent.children -= 1
    }
  }

  // ---- operations ---------------------------------------------------------------------------------------------

  private async oneOp(ctx: Ctx): Promise<void> {
    if (ctx.capturedOnly) {
      if (ctx.rng.chance(0.55)) await this.read(ctx)
      else await this.update(ctx, true)
      return
    }
    const r = ctx.rng.next()
    if (r < 0.55) {
      await this.read(ctx)
      return
    }
    const w = ctx.rng.next()
    // A session with many live rows deletes instead of creating: reads of its rows stay small over a long soak.
    if (w < 0.22 && ctx.session.live.size >= MAX_LIVE_ROWS) await this.remove(ctx)
    else if (w < 0.16) await this.create(ctx)
    else if (w < 0.22) await this.createMany(ctx)
    else if (w < 0.38) await this.update(ctx)
    else if (w < 0.45) await this.upsert(ctx)
    else if (w < 0.53) await this.remove(ctx)
    else if (w < 0.57) await this.rawInsert(ctx)
    else if (w < 0.62) await this.rawUpdate(ctx)
    else if (w < 0.68) await this.batch(ctx)
    else if (w < 0.84) await this.interactive(ctx)
    else if (w < 0.9) await this.primaryWrite(ctx)
    else if (this.options.primaryTransactions) await this.primaryInteractive(ctx)
    else await this.interactive(ctx)
  }

  /**
   * What a read's rows prove, after the stack's own checks: a row the tenant filter hides, or a computed field
   * missing or wrong, is an anomaly of the op (the stack was skipped on the path that served it); hidden rows are
   * unknown to the history, and left out of its facts.
   */
  private screen(ctx: Ctx, op: Operation, found: readonly Row[], fluent = false): { id: string; version: number }[] {
    const out: { id: string; version: number }[] = []
    for (const row of found) {
      if (row.owner.endsWith(HIDDEN)) {
        op.anomalies.push(`the tenant filter was skipped: row ${row.id} of ${row.owner} returned`)
        continue
      }
      if (ctx.stack.has('computed-tag') && (!fluent || this.fluentComputes)) {
        const tag = (row as { tag?: unknown }).tag
        if (tag !== tagOf(row)) op.anomalies.push(`the computed field was skipped: tag of ${row.id} is ${tag === undefined ? 'undefined' : JSON.stringify(tag)}, not ${tagOf(row)}`)
      }
      out.push({ id: row.id, version: row.version })
    }
    return out
  }

  /** A count of `owner`'s rows: none when the tenant filter hides the owner. */
  private screenCount(op: Operation, owner: string, count: number): void {
    if (owner.endsWith(HIDDEN) && count !== 0) op.anomalies.push(`the tenant filter was skipped: ${String(count)} rows of ${owner} counted`)
  }

  /** One read of a random kind, routed by the router, recorded with the facts it proves. */
  private async read(ctx: Ctx): Promise<Operation> {
    const { prisma, rng } = ctx
    const select = ctx.stack.has('computed-tag') ? SELECT_TAG : SELECT
    const k = rng.int(0, ctx.stack.has('captured-reader') ? 11 : 10)
    switch (k) {
      case 0:
      case 1: {
        const id = this.readTarget(ctx)
        return await this.record(ctx, 'read', 'cell.findUnique(id)', async (op) => {
          const row = await prisma.cell.findUnique({ where: { id }, select })
          op.facts.push({ coverage: { ids: [id] }, rows: this.screen(ctx, op, row ? [row] : []), complete: true })
        })
      }
      case 2: {
        const owner = this.ownerToRead(ctx)
        return await this.record(ctx, 'read', 'cell.findFirst(owner, version desc)', async (op) => {
          const row = await prisma.cell.findFirst({ where: { owner }, orderBy: { version: 'desc' }, select })
          const rows = this.screen(ctx, op, row ? [row] : [])
          op.facts.push(rows.length > 0 ? { coverage: { owner }, rows, complete: false } : { coverage: { owner }, rows: [], complete: true, count: 0 })
        })
      }
      case 3: {
        const owner = this.ownerToRead(ctx)
        return await this.record(ctx, 'read', 'cell.findMany(owner)', async (op) => {
          const found = await prisma.cell.findMany({ where: { owner }, select })
          op.facts.push({ coverage: { owner }, rows: this.screen(ctx, op, found), complete: true })
        })
      }
      case 4: {
        const ids = [...new Set([this.readTarget(ctx), this.readTarget(ctx), this.readTarget(ctx)])]
        return await this.record(ctx, 'read', 'cell.findMany(id in)', async (op) => {
          const found = await prisma.cell.findMany({ where: { id: { in: ids } }, select })
          op.facts.push({ coverage: { ids }, rows: this.screen(ctx, op, found), complete: true })
        })
      }
      case 5: {
        const owner = this.ownerToRead(ctx)
        return await this.record(ctx, 'read', 'cell.count(owner)', async (op) => {
          const count = await prisma.cell.count({ where: { owner } })
          this.screenCount(op, owner, count)
          op.facts.push({ coverage: { owner }, rows: [], complete: false, count })
        })
      }
      case 6: {
        const owner = this.ownerToRead(ctx)
        return await this.record(ctx, 'read', 'cell.aggregate(owner)', async (op) => {
          const agg = await prisma.cell.aggregate({ where: { owner }, _count: { _all: true }, _max: { version: true } })
          this.screenCount(op, owner, agg._count._all)
          op.facts.push({ coverage: { owner }, rows: [], complete: false, count: agg._count._all, maxVersion: agg._max.version })
        })
      }
      case 7: {
        const owners = [...new Set([ctx.session.owner, this.ownerToRead(ctx)])]
        return await this.record(ctx, 'read', 'cell.groupBy(owner)', async (op) => {
          const groups = await prisma.cell.groupBy({ by: ['owner'], where: { owner: { in: owners } }, _count: { _all: true }, _max: { version: true } })
          for (const owner of owners) {
            const g = groups.find((x) => x.owner === owner)
            this.screenCount(op, owner, g?._count._all ?? 0)
            op.facts.push({ coverage: { owner }, rows: [], complete: false, count: g?._count._all ?? 0, maxVersion: g?._max.version ?? null })
          }
        })
      }
      case 9: {
        // A read-only transaction: one snapshot on a replica that can serve the scope, else the primary; the
        // stack's extensions apply in it as anywhere. PostgreSQL: sometimes a raw read in it too.
        const id = this.readTarget(ctx)
        const owner = this.ownerToRead(ctx)
        const raw = this.options.engine !== 'mariadb' && rng.chance(0.4)
        return await this.record(ctx, 'read', `$replica().$transaction(findUnique(id), findMany(owner)${raw ? ', $queryRaw(owner)' : ''})`, async (op) => {
          const [row, found, rawRows] = await prisma
            .$replica()
            .$transaction(async (tx) => [
              await tx.cell.findUnique({ where: { id }, select }),
              await tx.cell.findMany({ where: { owner }, select }),
              raw ? await tx.$queryRaw<{ id: string; version: number }[]>`SELECT "id", "version" FROM "Cell" WHERE "owner" = ${owner}` : undefined,
            ])
          op.facts.push(
            { coverage: { ids: [id] }, rows: this.screen(ctx, op, row ? [row] : []), complete: true },
            { coverage: { owner }, rows: this.screen(ctx, op, found), complete: true },
          )
          // A raw read runs no extension: hidden rows are in it (the history does not know them).
          if (rawRows && !owner.endsWith(HIDDEN)) op.facts.push({ coverage: { owner }, rows: rawRows.map((x) => ({ id: x.id, version: x.version })), complete: true })
        })
      }
      case 10: {
        // A raw read (PostgreSQL: classified and routed like a model read; MariaDB: the primary). No extension runs.
        const owner = rng.chance(0.8) ? ctx.session.owner : rng.pick(this.sessions).owner
        return await this.record(ctx, 'read', '$queryRaw(owner)', async (op) => {
          const found =
            this.options.engine === 'mariadb'
              ? await prisma.$queryRawUnsafe<{ id: string; version: number }[]>('SELECT `id`, `version` FROM `Cell` WHERE `owner` = ?', owner)
              : await prisma.$queryRaw<{ id: string; version: number }[]>`SELECT "id", "version" FROM "Cell" WHERE "owner" = ${owner}`
          op.facts.push({ coverage: { owner }, rows: found.map((x) => ({ id: x.id, version: x.version })), complete: true })
        })
      }
      case 11: {
        // A model method reading through the client its extension captured (below the router: the primary).
        const owner = rng.chance(0.8) ? ctx.session.owner : rng.pick(this.sessions).owner
        return await this.record(ctx, 'read', `cell.ownedBy(owner) [captured reader ${ctx.stack.position('captured-reader') ?? ''} the router]`, async (op) => {
          const found = await (prisma.cell as unknown as StackMethods).ownedBy(owner)
          op.facts.push({ coverage: { owner }, rows: found.map((x) => ({ id: x.id, version: x.version })), complete: true })
        })
      }
      default: {
        const parents = [...ctx.session.live].filter(([, v]) => v.children > 0).map(([id]) => id)
        const parent = parents.length > 0 && rng.chance(0.8) ? rng.pick(parents) : this.readTarget(ctx)
        return await this.record(ctx, 'read', 'cell.findUnique(id).children()', async (op) => {
          const children = await prisma.cell.findUnique({ where: { id: parent } }).children({ select })
          const fact: ReadFact = children
            ? { coverage: { parentId: parent }, rows: this.screen(ctx, op, children, true), complete: true }
            : { coverage: { ids: [parent] }, rows: [], complete: true }
          op.facts.push(fact)
        })
      }
    }
  }

  private async create(ctx: Ctx): Promise<void> {
    const parents = [...ctx.session.live.keys()]
    const parentId = parents.length > 0 && ctx.rng.chance(0.35) ? ctx.rng.pick(parents) : null
    const effect = this.intendCreate(ctx.session, parentId)
    const op = await this.record(ctx, 'create', 'cell.create', async (o) => {
      o.writes.push(effect)
      const row = await ctx.prisma.cell.create({ data: { id: effect.id, owner: effect.owner, parentId }, select: SELECT })
      effect.version = row.version
    })
    if (op.ok) this.created(ctx.session, effect)
  }

  private async createMany(ctx: Ctx): Promise<void> {
    const effects = Array.from({ length: ctx.rng.int(2, 3) }, () => this.intendCreate(ctx.session))
    const op = await this.record(ctx, 'createMany', 'cell.createMany', async (o) => {
      o.writes.push(...effects)
      await ctx.prisma.cell.createMany({ data: effects.map((e) => ({ id: e.id, owner: e.owner })) })
      for (const e of effects) e.version = 1
    })
    if (op.ok) for (const e of effects) this.created(ctx.session, e)
  }

  private async update(ctx: Ctx, captured = false): Promise<void> {
    const id = this.updateTarget(ctx)
    if (id === undefined) {
      await this.create(ctx)
      return
    }
    const effect = this.intend('update', id)
    if (captured || (ctx.stack.has('captured-writer') && ctx.rng.chance(0.5))) {
      // An update through the client the extension captured (before the router: one the router never sees).
      await this.record(ctx, 'update', `cell.bump(id) [captured writer ${ctx.stack.position('captured-writer') ?? ''} the router]`, async (o) => {
        o.writes.push(effect)
        const row = await (ctx.prisma.cell as unknown as StackMethods).bump(id)
        effect.version = row.version
      })
      return
    }
    await this.record(ctx, 'update', 'cell.update(version+1)', async (o) => {
      o.writes.push(effect)
      const row = await ctx.prisma.cell.update({ where: { id }, data: { version: { increment: 1 } }, select: SELECT })
      effect.version = row.version
    })
  }

  private async upsert(ctx: Ctx): Promise<void> {
    // A live own row takes the update branch; otherwise a fresh id takes the create branch. The client-wide
    // scope's concurrent actors always use a fresh id (another actor may be deleting the row: no id reuse).
    const own = ctx.session.wide ? undefined : this.ownLive(ctx)
    const effect = own === undefined ? this.intendCreate(ctx.session) : this.intend('update', own)
    const op = await this.record(ctx, 'upsert', own === undefined ? 'cell.upsert(create)' : 'cell.upsert(update)', async (o) => {
      o.writes.push(effect)
      const row = await ctx.prisma.cell.upsert({
        where: { id: effect.id },
        create: { id: effect.id, owner: effect.owner },
        update: { version: { increment: 1 } },
        select: SELECT,
      })
      effect.version = row.version
    })
    if (op.ok && own === undefined) this.created(ctx.session, effect)
  }

  private async remove(ctx: Ctx): Promise<void> {
    const leaves = [...ctx.session.live].filter(([, v]) => v.children === 0).map(([id]) => id)
    if (leaves.length === 0) {
      await this.create(ctx)
      return
    }
    const id = ctx.rng.pick(leaves)
    const effect = this.intend('delete', id)
    // Taken out of the live set before the delete is sent: no other op of the session targets it meanwhile.
    const live = ctx.session.live.get(id)
    ctx.session.live.delete(id)
    const via = ctx.stack.has('captured-writer') ? ` [through the captured client, ${ctx.stack.position('captured-writer') ?? ''} the router]` : ''
    const op = await this.record(ctx, 'delete', `cell.delete${via}`, async (o) => {
      o.writes.push(effect)
      try {
        await ctx.prisma.cell.delete({ where: { id }, select: SELECT })
      } catch (error) {
        // Known not to have deleted anything: not found (another actor deleted it) or still has children.
        const code = errorCode(error)
        if (code === 'P2025' || code === 'P2003') o.writes.length = 0
        throw error
      }
    })
    if (op.ok) this.deleted(ctx.session, effect)
    else if (op.writes.length === 0 && live) ctx.session.live.set(id, live)
  }

  private async rawInsert(ctx: Ctx): Promise<void> {
    const effect = this.intendCreate(ctx.session)
    const op = await this.record(ctx, 'rawInsert', '$executeRaw INSERT', async (o) => {
      o.writes.push(effect)
      if (this.options.engine === 'mariadb') await ctx.prisma.$executeRawUnsafe('INSERT INTO `Cell` (`id`, `owner`, `version`) VALUES (?, ?, 1)', effect.id, effect.owner)
      else await ctx.prisma.$executeRaw`INSERT INTO "Cell" ("id", "owner", "version") VALUES (${effect.id}, ${effect.owner}, 1)`
      effect.version = 1
    })
    if (op.ok) this.created(ctx.session, effect)
  }

  private async rawUpdate(ctx: Ctx): Promise<void> {
    const id = this.updateTarget(ctx)
    if (id === undefined) {
      await this.rawInsert(ctx)
      return
    }
    const effect = this.intend('update', id)
    await this.record(ctx, 'rawUpdate', '$executeRaw UPDATE version+1', async (o) => {
      o.writes.push(effect)
      const n =
        this.options.engine === 'mariadb'
          ? await ctx.prisma.$executeRawUnsafe('UPDATE `Cell` SET `version` = `version` + 1 WHERE `id` = ?', id)
          : await ctx.prisma.$executeRaw`UPDATE "Cell" SET "version" = "version" + 1 WHERE "id" = ${id}`
      if (n === 0) o.writes.length = 0 // nothing updated; the version stays unknown otherwise
    })
  }

  private async batch(ctx: Ctx): Promise<void> {
    const created = this.intendCreate(ctx.session)
    const target = this.ownLive(ctx)
    const updated = target === undefined ? undefined : this.intend('update', target)
    const op = await this.record(ctx, 'batchTx', '$transaction([create, update])', async (o) => {
      o.writes.push(created)
      if (updated) o.writes.push(updated)
      const create = ctx.prisma.cell.create({ data: { id: created.id, owner: created.owner }, select: SELECT })
      if (updated) {
        const [c, u] = await ctx.prisma.$transaction([create, ctx.prisma.cell.update({ where: { id: updated.id }, data: { version: { increment: 1 } }, select: SELECT })])
        created.version = c.version
        updated.version = u.version
      } else {
        const [c] = await ctx.prisma.$transaction([create])
        created.version = c.version
      }
    })
    if (op.ok) this.created(ctx.session, created)
  }

  /**
   * The writes of a transaction, on its transaction client: 1–3 creates and updates, then (maybe) a read in the
   * transaction and a short think time before COMMIT. Returns the rows created, for the live set.
   */
  private async transactionBody(ctx: Ctx, tx: Pick<Routed, 'cell' | '$executeRawUnsafe'>, op: Operation, syncOff: boolean, lastWrite: () => void): Promise<WriteEffect[]> {
    const created: WriteEffect[] = []
    if (syncOff) {
      await tx.$executeRawUnsafe('SET LOCAL synchronous_commit = off')
      op.syncCommitOff = true
    }
    const writes = ctx.rng.int(1, 3)
    for (let i = 0; i < writes; i++) {
      const target = ctx.rng.chance(0.5) ? this.updateTarget(ctx) : undefined
      if (target === undefined) {
        const effect = this.intendCreate(ctx.session)
        op.writes.push(effect)
        const row = await tx.cell.create({ data: { id: effect.id, owner: effect.owner }, select: SELECT })
        effect.version = row.version
        created.push(effect)
      } else {
        const effect = this.intend('update', target)
        op.writes.push(effect)
        const row = await tx.cell.update({ where: { id: target }, data: { version: { increment: 1 } }, select: SELECT })
        effect.version = row.version
      }
    }
    if (ctx.rng.chance(0.3)) await tx.cell.findMany({ where: { owner: ctx.session.owner }, select: SELECT }) // primary, unchecked
    lastWrite()
    // Think time before COMMIT: mostly short, sometimes longer than a replica's apply delay (a slow transaction).
    const think = ctx.rng.next()
    if (think < 0.5) await pause(ctx.rng.int(1, 20))
    else if (think < 0.75) await pause(ctx.rng.int(40, 300))
    return created
  }

  /**
   * An interactive `$transaction(fn)`; often with reads of the same scope running while it is open (as
   * `Promise.all([prisma.$transaction(fn), prisma.cell.findUnique(...)])` does), started once its writes are done.
   */
  private async interactive(ctx: Ctx): Promise<void> {
    const syncOff = ctx.rng.chance(0.3) && this.options.localSyncCommitOff
    const sideReads = ctx.rng.chance(0.6) && this.options.readsDuringTransactions ? ctx.rng.int(1, 3) : 0
    let release = (): void => undefined
    const writesDone = new Promise<void>((resolve) => (release = resolve))
    const txState = { open: true }
    let created: WriteEffect[] = []
    const tx = this.record(ctx, 'itx', `$transaction(fn)${syncOff ? ' [SET LOCAL synchronous_commit = off]' : ''}${sideReads > 0 ? ' + concurrent reads' : ''}`, async (op) => {
      try {
        created = await ctx.prisma.$transaction(async (t) => await this.transactionBody(ctx, t, op, syncOff, release))
      } finally {
        txState.open = false
        release()
      }
    })
    const side = (async () => {
      if (sideReads === 0) return
      await writesDone
      for (let i = 0; i < sideReads && txState.open; i++) await this.read(ctx)
    })()
    const [op] = await Promise.all([tx, side])
    if (op.ok) for (const e of created) this.created(ctx.session, e)
  }

  private async primaryWrite(ctx: Ctx): Promise<void> {
    const target = this.ownLive(ctx)
    if (target === undefined || ctx.rng.chance(0.4)) {
      const effect = this.intendCreate(ctx.session)
      const op = await this.record(ctx, 'primaryWrite', '$primary().cell.create', async (o) => {
        o.writes.push(effect)
        const row = await ctx.prisma.$primary().cell.create({ data: { id: effect.id, owner: effect.owner }, select: SELECT })
        effect.version = row.version
      })
      if (op.ok) this.created(ctx.session, effect)
      return
    }
    const effect = this.intend('update', target)
    await this.record(ctx, 'primaryWrite', '$primary().cell.update(version+1)', async (o) => {
      o.writes.push(effect)
      const row = await ctx.prisma.$primary().cell.update({ where: { id: target }, data: { version: { increment: 1 } }, select: SELECT })
      effect.version = row.version
    })
  }

  private async primaryInteractive(ctx: Ctx): Promise<void> {
    let created: WriteEffect[] = []
    const op = await this.record(ctx, 'primaryItx', '$primary().$transaction(fn)', async (o) => {
      created = await ctx.prisma.$primary().$transaction(async (t) => await this.transactionBody(ctx, t, o, false, () => undefined))
    })
    if (op.ok) for (const e of created) this.created(ctx.session, e)
  }
}
