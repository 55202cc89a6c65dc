/**
 * The extensions the differential tester stacks before and after the router, as applications write them: query
 * components that rewrite arguments (soft delete, a tenant filter, a default `take`) or results, computed fields
 * (one overriding a real field), model and client methods, and extensions in function form that read through the
 * client they captured (in a model method, in a query callback, and the row-level-security pattern that puts
 * each query in a batch transaction). A stack is data (names and positions), so a failing case prints as such.
 */
import { Prisma } from '../../../generated/prisma/client.ts'

export type Position = 'before' | 'after'

export interface Layer {
  readonly ingredient: IngredientName
  readonly position: Position
}

/** The reads of a model that the soft-delete and tenant filters rewrite. */
const READS = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow', 'findMany', 'count', 'aggregate', 'groupBy'])

type Args = Record<string, unknown> & { where?: Record<string, unknown>; take?: number }
interface Params {
  args: Args
  query: (args: Args) => PromiseLike<unknown>
  operation: string
  model?: string
}
/** Extensions written as applications write them, untyped here. */
type AnyClient = any

/** `where` with `filter` added (to `AND`, so that a unique `where` stays one). */
function withFilter(args: Args | undefined, filter: Record<string, unknown>): Args {
  const given = args ?? {}
  const where = given.where
  return {
    ...given,
    where: where === undefined ? filter : { ...where, AND: [...(Array.isArray(where.AND) ? (where.AND as unknown[]) : where.AND === undefined ? [] : [where.AND]), filter] },
  }
}

/** Soft delete, as the Prisma docs write it: reads of members and articles skip deleted rows. */
const softDelete = () => ({
  name: 'soft-delete',
  query: {
    member: {
      $allOperations({ operation, args, query }: Params) {
        return query(READS.has(operation) ? withFilter(args, { deletedAt: null }) : args)
      },
    },
    article: {
      $allOperations({ operation, args, query }: Params) {
        return query(READS.has(operation) ? withFilter(args, { deletedAt: null }) : args)
      },
    },
  },
})

/** A tenant filter on every model with a tenant. */
const tenant = () => ({
  name: 'tenant',
  query: {
    $allModels: {
      $allOperations({ model, operation, args, query }: Params) {
        if ((model === 'Member' || model === 'Article') && READS.has(operation)) return query(withFilter(args, { tenant: 'acme' }))
        return query(args)
      },
    },
  },
})

/** A default page size for lists (mutating the arguments it was given, as callbacks may). */
const takeCap = () => ({
  name: 'take-cap',
  query: {
    $allModels: {
      findMany({ args, query }: Params) {
        args.take ??= 7
        return query(args)
      },
    },
  },
})

/** A query component that rewrites results: every article row gets a `visited` flag; counts are doubled. */
const resultMap = () => ({
  name: 'result-map',
  query: {
    article: {
      async findMany({ args, query }: Params) {
        const rows = (await query(args)) as Record<string, unknown>[]
        return rows.map((row) => ({ ...row, visited: true, trail: `${typeof row.trail === 'string' ? row.trail : ''}M` }))
      },
      async count({ args, query }: Params) {
        const n = await query(args)
        return typeof n === 'number' ? n * 2 : n
      },
    },
  },
})

/**
 * Sensitive to the order of the callbacks with `take-cap` (a cap of 9 before or after its default of 7) and with
 * `result-map` (both append to each row's `trail`, the inner one first).
 */
const trail = () => ({
  name: 'trail',
  query: {
    $allModels: {
      async findMany({ args, query }: Params) {
        const rows = (await query({ ...args, take: Math.min(args.take ?? 9, 9) })) as Record<string, unknown>[]
        return rows.map((row) => ({ ...row, trail: `${typeof row.trail === 'string' ? row.trail : ''}T` }))
      },
    },
  },
})

/** Moves every date in `value` 1 ms later, in place. */
function shiftDates(value: unknown): void {
  if (typeof value !== 'object' || value === null) return
  if (value instanceof Date) value.setTime(value.getTime() + 1)
  else for (const item of Array.isArray(value) ? value : Object.values(value)) shiftDates(item)
}

/**
 * Edits, in place, the filters in its copy of `where.AND` (an empty `AND` added to each: no condition) and the
 * dates of its `where` (1 ms later): Prisma gives each callback its own deep copy, so neither the caller's
 * arguments nor another callback's change.
 */
const markFilters = () => ({
  name: 'mark-filters',
  query: {
    $allModels: {
      findMany({ args, query }: Params) {
        const and = args.where?.AND
        if (Array.isArray(and)) for (const item of and) if (typeof item === 'object' && item !== null && !('AND' in item)) (item as Record<string, unknown>).AND = []
        shiftDates(args.where)
        return query(args)
      },
    },
  },
})

/** Computed fields, one needing another's needs, one on a relation's model. */
const computed = () => ({
  name: 'computed',
  result: {
    member: {
      display: { needs: { handle: true, name: true }, compute: (m: { handle: string; name: string | null }) => `${m.handle}:${m.name ?? '-'}` },
    },
    article: {
      headline: { needs: { title: true, status: true }, compute: (a: { title: string; status: string }) => `[${a.status}] ${a.title.toUpperCase()}` },
    },
    rating: {
      verdict: { needs: { stars: true }, compute: (x: { stars: number }) => (x.stars >= 4 ? 'good' : 'meh') },
    },
  },
})

/** A computed field that overrides a real field (`Member.name`), and one needing a JSON column. */
const override = () => ({
  name: 'override',
  result: {
    member: {
      name: { needs: { name: true }, compute: (m: { name: string | null }) => (m.name === null ? null : m.name.toUpperCase()) },
      level: {
        needs: { profile: true },
        compute: (m: { profile: unknown }) => (typeof m.profile === 'object' && m.profile !== null && 'level' in m.profile ? m.profile.level : null),
      },
    },
  },
})

/** Model methods reading through their context (`Prisma.getExtensionContext(this)`). */
const modelMethods = () => ({
  name: 'model-methods',
  model: {
    member: {
      byHandle(this: unknown, handle: string) {
        const context = Prisma.getExtensionContext(this) as unknown as { findUnique(args: object): PromiseLike<unknown> }
        return context.findUnique({ where: { handle } })
      },
    },
  },
})

/** A client method. */
const clientMethods = () => ({
  name: 'client-methods',
  client: {
    $ratingsOf(this: unknown, memberId: number) {
      const context = Prisma.getExtensionContext(this) as unknown as { rating: { findMany(args: object): PromiseLike<unknown> } }
      return context.rating.findMany({ where: { memberId }, orderBy: [{ memberId: 'asc' }, { articleId: 'asc' }] })
    },
  },
})

/** Function form: a model method that reads through the client it captured. */
const capturedReader = () => (client: AnyClient) =>
  client.$extends({
    name: 'captured-reader',
    model: {
      article: {
        recentOf(authorId: number) {
          return client.article.findMany({ where: { authorId }, orderBy: { id: 'desc' }, take: 3 })
        },
      },
    },
  })

/** Function form: a query callback that reads through the client it captured before it runs the query. */
const capturedQuery = () => (client: AnyClient) =>
  client.$extends({
    name: 'captured-query',
    query: {
      label: {
        async findMany({ args, query }: Params) {
          const labels = await client.label.count()
          const rows = (await query(args)) as Record<string, unknown>[]
          return rows.map((row) => ({ ...row, of: labels }))
        },
      },
    },
  })

/** Function form: row-level security's pattern, each article read in a batch transaction after `set_config`. */
const rowLevel = () => (client: AnyClient) =>
  client.$extends({
    name: 'row-level',
    query: {
      article: {
        async findMany({ args, query }: Params) {
          const [, rows] = await client.$transaction([client.$executeRaw`SELECT set_config('app.tenant', 'acme', TRUE)`, query(args) as never])
          return rows
        },
      },
    },
  })

export const INGREDIENTS = {
  'soft-delete': softDelete,
  tenant,
  'take-cap': takeCap,
  'result-map': resultMap,
  trail,
  'mark-filters': markFilters,
  computed,
  override,
  'model-methods': modelMethods,
  'client-methods': clientMethods,
  'captured-reader': capturedReader,
  'captured-query': capturedQuery,
  'row-level': rowLevel,
} as const

export type IngredientName = keyof typeof INGREDIENTS

export const INGREDIENT_NAMES = Object.keys(INGREDIENTS) as IngredientName[]

/** The computed fields a stack adds, by model property (for the selections of generated reads). */
export function computedFields(layers: readonly Layer[]): Readonly<Record<string, readonly string[]>> {
  const has = (name: IngredientName) => layers.some((l) => l.ingredient === name)
  const fields: Record<string, string[]> = { member: [], article: [], rating: [], label: [] }
  if (has('computed')) {
    fields.member?.push('display')
    fields.article?.push('headline')
    fields.rating?.push('verdict')
  }
  if (has('override')) fields.member?.push('level')
  return fields
}

/** `client` with the layers at `position` applied, in order. */
export function applyLayers<C>(client: C, layers: readonly Layer[], position: Position | 'all'): C {
  let extended: AnyClient = client
  for (const layer of layers) if (position === 'all' || layer.position === position) extended = extended.$extends(INGREDIENTS[layer.ingredient]())
  return extended as C
}
