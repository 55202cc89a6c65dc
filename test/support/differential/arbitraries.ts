/**
 * fast-check arbitraries of the differential tester's cases: an extension stack (before and after the router), a
 * client configuration (global `omit`), and reads over the four models through every entry point. A read's
 * arguments are built from the schema (src of truth: schema.ts) and the dataset's values, so that filters select
 * something: nested `where` (relation filters, `AND`/`OR`/`NOT`, string modes, JSON paths), `select`, `include`
 * with `where`/`orderBy`/`take`/`skip`, `omit`, `_count`, `orderBy` (relations, `_count`, `nulls`), `cursor`,
 * `take`, `skip`, `distinct`; `count`, `aggregate` and `groupBy`; the fluent API. Every `orderBy` ends with the
 * model's total order, so that a read has one answer. A few arguments are invalid on purpose (the errors must
 * match too).
 */
import fc from 'fast-check'
import { Prisma } from '../../../generated/prisma/client.ts'
import { dataset, type Dataset } from './dataset.ts'
import { computedFields, INGREDIENT_NAMES, type Layer } from './extensions.ts'
import { MODEL_NAMES, MODELS, NUMERIC, ORDERED, ROLES, SORTABLE, STATUSES, type ModelInfo, type ModelName, type ScalarField } from './schema.ts'

/** The dataset every case reads (its seed is fixed: cases are generated from its values). */
export const DATASET_SEED = 20261207
export const DATA: Dataset = dataset(DATASET_SEED)

export type Entry =
  'routed' | 'replica' | 'primary' | 'batch' | 'interactive' | 'replica-transaction' | 'scope-after-write' | 'fluent' | 'model-method' | 'client-method' | 'captured-reader'

/** One model read (or, for the fluent API, the relation read off a `findUnique`). */
export interface Query {
  readonly model: ModelName
  readonly operation: string
  readonly args: unknown
  /** The fluent API: `<operation>(args).<relation>(relationArgs)` (operation: findUnique, findFirst, or their OrThrow). */
  readonly fluent?: { readonly relation: string; readonly args?: unknown }
}

/** A write before the read, in the same scope (`scope-after-write`), through one of the ways an application writes. */
export interface Write {
  readonly path: 'routed' | 'base' | 'primary' | 'interactive' | 'batch'
  readonly model: 'Member' | 'Article'
  readonly id: number
  readonly data: Readonly<Record<string, unknown>>
}

export interface Read {
  readonly entry: Entry
  readonly query: Query
  /** `batch`: a second read in the same `$transaction([...])`. */
  readonly second?: Query
  /** `scope-after-write`: the write before the read. */
  readonly write?: Write
}

export interface Case {
  readonly layers: readonly Layer[]
  /** The clients' global `omit` (`new PrismaClient({ omit })`), the same on every client. */
  readonly omit: Readonly<Record<string, Readonly<Record<string, boolean>>>> | undefined
  /** The clients' error format: `minimal` (production's default: the fast path) or `colorless` (call sites in errors). */
  readonly errorFormat: 'minimal' | 'colorless'
  readonly reads: readonly Read[]
}

// ---- values -------------------------------------------------------------------------------------------------

/** Arbitraries are immutable: each is built once per key (a case's stack picks among a few), not per case. */
const built = new Map<string, unknown>()
function memo<T>(key: string, build: () => T): T {
  if (!built.has(key)) built.set(key, build())
  return built.get(key) as T
}

const distinct = <T>(values: readonly T[]): T[] => [
  ...new Map(values.map((v) => [typeof v === 'object' && v !== null ? JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${String(x)}n` : x)) : v, v])).values(),
]

function column(model: ModelName, field: string): unknown[] {
  const rows: readonly Record<string, unknown>[] = { Member: DATA.members, Article: DATA.articles, Label: DATA.labels, Rating: DATA.ratings }[model]
  return rows.map((row) => row[field]).filter((v) => v !== undefined && v !== null && v !== Prisma.DbNull)
}

/** Values for filters on `field`: the dataset's, and near misses. */
function values(model: ModelName, field: ScalarField): fc.Arbitrary<unknown> {
  const seen = column(model, field.name)
  switch (field.kind) {
    case 'int':
      return fc.oneof(fc.constantFrom(...distinct(seen as number[]).concat([0, -1, 1, 13, 31])), fc.integer({ min: -2, max: 32 }))
    case 'string': {
      const strings = distinct(seen as string[])
      const parts = strings.flatMap((v) => [v.slice(0, 3), v.slice(-2), v.toUpperCase(), v.toLowerCase()])
      return fc.constantFrom(...distinct([...strings, ...parts, 'zzz', '', 'a']))
    }
    case 'bigint':
      return fc.constantFrom(...distinct((seen as bigint[]).concat([0n, -1n, 10n, 10_000_000_000n])))
    case 'decimal':
      return fc.oneof(
        fc.constantFrom(...(seen as Prisma.Decimal[]).slice(0, 6)),
        fc.constantFrom('0', '100.5', '-3.25', '4999.9999').map((v) => new Prisma.Decimal(v)),
        fc.constantFrom('12.5', '0'),
        fc.constantFrom(7, 2500.25),
      )
    case 'float':
      return fc.oneof(fc.constantFrom(...distinct(seen as number[]).concat([0, 12.5, -7.25])), fc.double({ min: -30, max: 30, noNaN: true, noDefaultInfinity: true }))
    case 'datetime':
      return fc.oneof(
        fc.constantFrom(...(seen as Date[]).slice(0, 8)),
        fc.integer({ min: 0, max: 500 }).map((d) => new Date(Date.UTC(2026, 0, 1) + d * 86_400_000)),
      )
    case 'boolean':
      return fc.boolean()
    case 'role':
      return fc.constantFrom(...ROLES)
    case 'status':
      return fc.constantFrom(...STATUSES)
    case 'bytes':
      return fc.constantFrom(...(seen as Uint8Array[]).slice(0, 4), Uint8Array.from([1, 2, 3]))
    case 'json':
      return fc.constant(null)
  }
}

// ---- where --------------------------------------------------------------------------------------------------

function scalarFilter(model: ModelName, field: ScalarField): fc.Arbitrary<unknown> {
  return memo(`scalarFilter ${model}.${field.name}`, () => {
    const value = values(model, field)
    const nulls: fc.Arbitrary<unknown>[] = field.optional ? [fc.constant(null), fc.constant({ not: null }), fc.constant({ equals: null })] : []
    if (field.kind === 'json') {
      return fc.oneof(
        fc.constant({ equals: Prisma.DbNull }),
        fc.constant({ not: Prisma.DbNull }),
        fc.integer({ min: 1, max: 5 }).map((n) => ({ path: ['level'], equals: n })),
        fc.integer({ min: 1, max: 5 }).map((n) => ({ path: ['level'], gt: n })),
        fc.boolean().map((ok) => ({ path: ['nested', 'ok'], equals: ok })),
        fc.constantFrom('alpha', 'Beta', 'omega').map((w) => ({ path: ['tags'], array_contains: [w] })),
        fc.constantFrom('alp', 'et').map((w) => ({ path: ['tags', '0'], string_contains: w })),
      )
    }
    if (field.kind === 'bytes')
      return fc.oneof(
        ...nulls,
        value.map((v) => ({ equals: v })),
        value.map((v) => ({ not: v })),
      )
    if (field.kind === 'boolean')
      return fc.oneof(
        value,
        value.map((v) => ({ equals: v })),
        value.map((v) => ({ not: v })),
      )
    if (field.kind === 'role' || field.kind === 'status') {
      return fc.oneof(
        value,
        value.map((v) => ({ equals: v })),
        value.map((v) => ({ not: v })),
        fc.array(value, { maxLength: 2 }).map((v) => ({ in: v })),
        fc.array(value, { maxLength: 2 }).map((v) => ({ notIn: v })),
      )
    }
    const ops: fc.Arbitrary<unknown>[] = [
      value,
      value.map((v) => ({ equals: v })),
      value.map((v) => ({ not: v })),
      fc.array(value, { maxLength: 3 }).map((v) => ({ in: v })),
      fc.array(value, { maxLength: 3 }).map((v) => ({ notIn: v })),
    ]
    if (ORDERED.has(field.kind)) {
      ops.push(
        fc.record({ op: fc.constantFrom('lt', 'lte', 'gt', 'gte'), v: value }).map(({ op, v }) => ({ [op]: v })),
        fc.tuple(value, value).map(([a, b]) => ({ gte: a, lte: b })),
      )
    }
    if (field.kind === 'string') {
      const mode = fc.option(fc.constant('insensitive' as const), { nil: undefined })
      ops.push(
        fc.record({ op: fc.constantFrom('contains', 'startsWith', 'endsWith', 'equals'), v: value, mode }).map(({ op, v, mode: m }) => (m ? { [op]: v, mode: m } : { [op]: v })),
        fc.record({ v: value, mode }).map(({ v, mode: m }) => (m ? { not: { contains: v }, mode: m } : { not: { contains: v } })),
      )
    }
    return fc.oneof(...ops, ...nulls)
  })
}

function relationFilter(info: ModelInfo, depth: number): fc.Arbitrary<Record<string, unknown>>[] {
  return info.relations.map((relation) => {
    const nested = where(MODELS[relation.model], depth - 1)
    if (relation.list) return fc.record({ op: fc.constantFrom('some', 'every', 'none'), w: nested }).map(({ op, w }) => ({ [relation.name]: { [op]: w } }))
    const ops: fc.Arbitrary<Record<string, unknown>>[] = [
      nested.map((w) => ({ [relation.name]: { is: w } })),
      nested.map((w) => ({ [relation.name]: { isNot: w } })),
      nested.map((w) => ({ [relation.name]: w })),
    ]
    if (relation.optional) ops.push(fc.constant({ [relation.name]: null }), fc.constant({ [relation.name]: { isNot: null } }))
    return fc.oneof(...ops)
  })
}

/** A `where` of `info`'s model, nested `depth` deep at most. */
export function where(info: ModelInfo, depth: number): fc.Arbitrary<Record<string, unknown>> {
  return memo(`where ${info.name} ${String(depth)}`, () => {
    const scalars = info.scalars.map((field) => scalarFilter(info.name, field).map((filter) => ({ [field.name]: filter })))
    const leaf = fc.oneof(...scalars)
    if (depth <= 0) return leaf
    const inner = where(info, depth - 1)
    return fc.oneof(
      { weight: 5, arbitrary: leaf },
      { weight: 2, arbitrary: fc.oneof(...relationFilter(info, depth)) },
      { weight: 1, arbitrary: fc.array(inner, { minLength: 1, maxLength: 3 }).map((AND) => ({ AND })) },
      { weight: 1, arbitrary: fc.array(inner, { minLength: 1, maxLength: 3 }).map((OR) => ({ OR })) },
      { weight: 1, arbitrary: inner.map((NOT) => ({ NOT })) },
      { weight: 2, arbitrary: fc.tuple(leaf, leaf).map(([a, b]) => ({ ...a, ...b })) },
    )
  })
}

// ---- orderBy, selection -------------------------------------------------------------------------------------

/** An `orderBy` list of `info`'s model ending with its total order. */
export function orderBy(info: ModelInfo, depth: number): fc.Arbitrary<Record<string, unknown>[]> {
  return memo(`orderBy ${info.name} ${String(depth)}`, () => {
    const sortable = info.scalars.filter((f) => SORTABLE.has(f.kind))
    const direction = fc.constantFrom('asc' as const, 'desc' as const)
    const specs: fc.Arbitrary<Record<string, unknown>>[] = sortable.map((field) =>
      field.optional
        ? fc.oneof(
            direction.map((d) => ({ [field.name]: d })),
            fc.record({ sort: direction, nulls: fc.constantFrom('first' as const, 'last' as const) }).map((spec) => ({ [field.name]: spec })),
          )
        : direction.map((d) => ({ [field.name]: d })),
    )
    if (depth > 0) {
      for (const relation of info.relations) {
        if (relation.list) specs.push(direction.map((d) => ({ [relation.name]: { _count: d } })))
        else {
          const target = MODELS[relation.model].scalars.filter((f) => SORTABLE.has(f.kind) && !f.optional)
          specs.push(fc.record({ field: fc.constantFrom(...target.map((f) => f.name)), d: direction }).map(({ field, d }) => ({ [relation.name]: { [field]: d } })))
        }
      }
    }
    return fc.array(fc.oneof(...specs), { maxLength: 2 }).map((list) => [...list, ...info.order])
  })
}

type Selection = Record<string, unknown>

/** What a relation inside `select` / `include` gets: `true`, or its own arguments. */
function relationArgs(info: ModelInfo, list: boolean, depth: number, computed: Readonly<Record<string, readonly string[]>>): fc.Arbitrary<unknown> {
  const own = selection(info, depth, computed)
  if (!list) return fc.oneof(fc.constant(true), own)
  return fc.oneof(
    fc.constant(true),
    fc
      .record(
        { sel: own, where: where(info, 1), orderBy: orderBy(info, 0), take: fc.integer({ min: -3, max: 4 }), skip: fc.integer({ min: 0, max: 2 }) },
        { requiredKeys: ['sel', 'orderBy'] },
      )
      .map(({ sel, ...rest }) => ({ ...sel, ...rest })),
  )
}

/** `select`, `include`, `omit`, or none, for `info`'s model (`computed`: the stack's computed fields). */
export function selection(info: ModelInfo, depth: number, computed: Readonly<Record<string, readonly string[]>>): fc.Arbitrary<Selection> {
  const scalars = info.scalars.map((f) => f.name)
  const extra = computed[info.property] ?? []
  const fields = [...scalars, ...extra]
  const relations = depth > 0 ? [...info.relations] : []
  const lists = relations.filter((r) => r.list)
  const counts: fc.Arbitrary<unknown> =
    lists.length === 0
      ? fc.constant(undefined)
      : fc.oneof(
          fc.constant(true),
          fc.subarray(lists, { minLength: 1 }).chain((chosen) =>
            fc
              .tuple(
                ...chosen.map((r) =>
                  fc.oneof(
                    fc.constant(true),
                    where(MODELS[r.model], 0).map((w) => ({ where: w })),
                  ),
                ),
              )
              .map((v) => ({ select: Object.fromEntries(chosen.map((r, i) => [r.name, v[i]])) })),
          ),
        )
  const withRelations = fc
    .subarray(relations, { maxLength: Math.min(2, relations.length) })
    .chain((chosen) =>
      fc.tuple(...chosen.map((r) => relationArgs(MODELS[r.model], r.list, depth - 1, computed))).map((args) => Object.fromEntries(chosen.map((r, i) => [r.name, args[i]]))),
    )
  const select = fc
    .record({ picked: fc.subarray(fields, { minLength: 1 }), falses: fc.subarray(fields, { maxLength: 1 }), rel: withRelations, count: fc.option(counts, { nil: undefined }) })
    .map(({ picked, falses, rel, count }) => ({
      select: {
        ...Object.fromEntries(picked.map((f) => [f, true])),
        ...Object.fromEntries(falses.filter((f) => !picked.includes(f)).map((f) => [f, false])),
        ...rel,
        ...(count === undefined ? {} : { _count: count }),
      },
    }))
  const include =
    relations.length === 0
      ? fc.constant({})
      : fc
          .record({ rel: withRelations, count: fc.option(counts, { nil: undefined }) })
          .map(({ rel, count }) => (Object.keys(rel).length === 0 && count === undefined ? {} : { include: { ...rel, ...(count === undefined ? {} : { _count: count }) } }))
  const omit = fc.subarray(fields, { minLength: 1, maxLength: Math.max(1, fields.length - 1) }).map((omitted) => ({ omit: Object.fromEntries(omitted.map((f) => [f, true])) }))
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant({}) },
    { weight: 3, arbitrary: select },
    { weight: 2, arbitrary: include },
    { weight: 1, arbitrary: omit },
    { weight: 1, arbitrary: fc.tuple(omit, include).map(([o, i]) => ({ ...o, ...i })) },
  )
}

// ---- operations ---------------------------------------------------------------------------------------------

/** A `where` of `findUnique`: a unique key with a value of the dataset (or one that matches nothing), sometimes with another filter. */
function uniqueWhere(info: ModelInfo): fc.Arbitrary<Record<string, unknown>> {
  let key: fc.Arbitrary<Record<string, unknown>>
  if (info.name === 'Rating') {
    key = fc.oneof(
      fc.constantFrom(...DATA.ratings.slice(0, 12)).map((r) => ({ memberId_articleId: { memberId: r.memberId, articleId: r.articleId } })),
      fc.constant({ memberId_articleId: { memberId: 99, articleId: 1 } }),
    )
  } else {
    key = fc.oneof(
      ...info.unique.map((field) => values(info.name, info.scalars.find((f) => f.name === field) ?? { name: field, kind: 'int', optional: false }).map((v) => ({ [field]: v }))),
    )
  }
  return fc.tuple(key, fc.option(where(info, 0), { nil: undefined, freq: 3 })).map(([k, extra]) => ({ ...extra, ...k }))
}

const cursorOf = (info: ModelInfo): fc.Arbitrary<Record<string, unknown>> =>
  info.name === 'Rating'
    ? fc.constantFrom(...DATA.ratings.slice(0, 10)).map((r) => ({ memberId_articleId: { memberId: r.memberId, articleId: r.articleId } }))
    : info.name === 'Label'
      ? fc.constantFrom(...DATA.labels.map((l) => ({ name: l.name })))
      : fc.integer({ min: 1, max: info.name === 'Member' ? 12 : 30 }).map((id) => ({ id }))

function listArgs(info: ModelInfo, computed: Readonly<Record<string, readonly string[]>>, first: boolean): fc.Arbitrary<Record<string, unknown>> {
  const distinctFields = info.scalars.filter((f) => SORTABLE.has(f.kind)).map((f) => f.name)
  return fc
    .record(
      {
        where: where(info, 2),
        sel: selection(info, 2, computed),
        orderBy: orderBy(info, 1),
        cursor: cursorOf(info),
        // findFirst takes 1 or -1 only (Prisma refuses other values).
        take: first ? fc.constantFrom(1, -1) : fc.integer({ min: -6, max: 8 }),
        skip: fc.integer({ min: 0, max: 3 }),
        distinct: fc.subarray(distinctFields, { minLength: 1, maxLength: Math.min(2, distinctFields.length) }),
      },
      { requiredKeys: ['orderBy', 'sel'] },
    )
    .map(({ sel, ...rest }) => ({ ...rest, ...sel }))
}

function countArgs(info: ModelInfo): fc.Arbitrary<Record<string, unknown>> {
  const fields = info.scalars.map((f) => f.name)
  return fc.record(
    {
      where: where(info, 2),
      select: fc.subarray(fields, { minLength: 1, maxLength: Math.min(2, fields.length) }).map((f) => ({ _all: true, ...Object.fromEntries(f.map((x) => [x, true])) })),
      orderBy: orderBy(info, 0),
      take: fc.integer({ min: -5, max: 5 }),
      skip: fc.integer({ min: 0, max: 3 }),
    },
    { requiredKeys: [] },
  )
}

function aggregateArgs(info: ModelInfo): fc.Arbitrary<Record<string, unknown>> {
  const numeric = info.scalars.filter((f) => NUMERIC.has(f.kind)).map((f) => f.name)
  const comparable = info.scalars.filter((f) => SORTABLE.has(f.kind) && f.kind !== 'boolean').map((f) => f.name)
  const pick = (names: string[]) => fc.subarray(names, { minLength: 1, maxLength: Math.min(2, names.length) }).map((f) => Object.fromEntries(f.map((x) => [x, true])))
  return fc.record(
    {
      where: where(info, 1),
      _count: fc.oneof(fc.constant(true), fc.constant({ _all: true }), pick(info.scalars.map((f) => f.name))),
      ...(numeric.length === 0 ? {} : { _sum: pick(numeric), _avg: pick(numeric) }),
      _min: pick(comparable),
      _max: pick(comparable),
      orderBy: orderBy(info, 0),
      take: fc.integer({ min: 1, max: 10 }),
    },
    { requiredKeys: ['_count'] },
  )
}

function groupByArgs(info: ModelInfo): fc.Arbitrary<Record<string, unknown>> {
  const groupable = info.scalars.filter((f) => SORTABLE.has(f.kind)).map((f) => f.name)
  const numeric = info.scalars.filter((f) => NUMERIC.has(f.kind)).map((f) => f.name)
  return fc
    .record({
      by: fc.subarray(groupable, { minLength: 1, maxLength: Math.min(2, groupable.length) }),
      where: fc.option(where(info, 1), { nil: undefined }),
      sum: numeric.length === 0 ? fc.constant(undefined) : fc.option(fc.subarray(numeric, { minLength: 1, maxLength: Math.min(2, numeric.length) }), { nil: undefined }),
      direction: fc.constantFrom('asc' as const, 'desc' as const),
      having: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    })
    .map(({ by, where: w, sum, direction, having }) => ({
      by,
      ...(w === undefined ? {} : { where: w }),
      _count: { _all: true },
      ...(sum === undefined ? {} : { _sum: Object.fromEntries(sum.map((f) => [f, true])) }),
      ...(having === undefined ? {} : { having: { [by[0] ?? '']: { _count: { gt: having } } } }),
      orderBy: by.map((f) => ({ [f]: direction })),
    }))
}

/** Arguments that are invalid on purpose: the validation error must be the same. */
function invalidArgs(info: ModelInfo): fc.Arbitrary<Record<string, unknown>> {
  return fc.constantFrom(
    { where: { nope: 1 } },
    { take: 'three' },
    { select: { nope: true } },
    { orderBy: { [info.scalars[0]?.name ?? 'id']: 'sideways' } },
    { where: { AND: 'x' } },
  )
}

/** One read of one model. */
export function query(computed: Readonly<Record<string, readonly string[]>>): fc.Arbitrary<Query> {
  return memo(`query ${JSON.stringify(computed)}`, () => {
    return fc.constantFrom(...MODEL_NAMES).chain((model) => {
      const info = MODELS[model]
      return fc.oneof(
        { weight: 4, arbitrary: listArgs(info, computed, false).map((args) => ({ model, operation: 'findMany', args })) },
        {
          weight: 2,
          arbitrary: fc
            .record({ op: fc.constantFrom('findFirst', 'findFirstOrThrow'), args: listArgs(info, computed, true) })
            .map(({ op, args }) => ({ model, operation: op, args })),
        },
        {
          weight: 4,
          arbitrary: fc
            .record({ op: fc.constantFrom('findUnique', 'findUniqueOrThrow'), where: uniqueWhere(info), sel: selection(info, 2, computed) })
            .map(({ op, where: w, sel }) => ({ model, operation: op, args: { where: w, ...sel } })),
        },
        { weight: 2, arbitrary: countArgs(info).map((args) => ({ model, operation: 'count', args })) },
        { weight: 2, arbitrary: aggregateArgs(info).map((args) => ({ model, operation: 'aggregate', args })) },
        { weight: 2, arbitrary: groupByArgs(info).map((args) => ({ model, operation: 'groupBy', args })) },
        {
          weight: 1,
          arbitrary: fc.record({ op: fc.constantFrom('findMany', 'findUnique', 'count'), args: invalidArgs(info) }).map(({ op, args }) => ({ model, operation: op, args })),
        },
      )
    })
  })
}

/** A fluent read: `findUnique(...).<relation>(args)`. */
function fluent(computed: Readonly<Record<string, readonly string[]>>): fc.Arbitrary<Query> {
  return memo(`fluent ${JSON.stringify(computed)}`, () => {
    return fc.constantFrom(...MODEL_NAMES.filter((m) => MODELS[m].relations.length > 0)).chain((model) => {
      const info = MODELS[model]
      // The fluent API hangs on the four operations that return one row: unique ones, and findFirst in total order.
      const base = fc.oneof(
        fc.record({ operation: fc.constantFrom('findUnique', 'findUniqueOrThrow'), args: uniqueWhere(info).map((w) => ({ where: w })) }),
        fc.record({ operation: fc.constantFrom('findFirst', 'findFirstOrThrow'), args: where(info, 1).map((w) => ({ where: w, orderBy: info.order })) }),
      )
      return fc.record({ base, relation: fc.constantFrom(...info.relations) }).chain(({ base: { operation, args: baseArgs }, relation }) => {
        const target = MODELS[relation.model]
        const args: fc.Arbitrary<unknown> = relation.list
          ? fc.option(
              fc
                .record(
                  { where: where(target, 1), orderBy: orderBy(target, 0), take: fc.integer({ min: 1, max: 4 }), sel: selection(target, 1, computed) },
                  { requiredKeys: ['orderBy', 'sel'] },
                )
                .map(({ sel, ...rest }) => ({ ...rest, ...sel })),
              { nil: undefined },
            )
          : fc.option(selection(target, 1, computed), { nil: undefined })
        return args.map((relationArgs) => ({ model, operation, args: baseArgs, fluent: { relation: relation.name, args: relationArgs } }))
      })
    })
  })
}

function write(): fc.Arbitrary<Write> {
  const path = fc.constantFrom('routed' as const, 'base' as const, 'primary' as const, 'interactive' as const, 'batch' as const)
  const member = fc.record({
    path,
    model: fc.constant('Member' as const),
    id: fc.integer({ min: 1, max: 12 }),
    data: fc.record({
      karma: fc.bigInt({ min: -100n, max: 100n }),
      name: fc.option(fc.constantFrom('Ada', 'ada', 'Zed', 'written'), { nil: null }),
      balance: fc.integer({ min: -9999, max: 9999 }).map((n) => new Prisma.Decimal(n).div(4)),
    }),
  })
  const article = fc.record({
    path,
    model: fc.constant('Article' as const),
    id: fc.integer({ min: 1, max: 30 }),
    data: fc.record({
      title: fc.constantFrom('alpha written', 'Beta written'),
      featured: fc.boolean(),
      score: fc.option(
        fc.integer({ min: -40, max: 40 }).map((n) => n / 4),
        { nil: null },
      ),
    }),
  })
  return fc.oneof(member, article)
}

/** A read through one of the entry points that the stack offers. */
export function read(layers: readonly Layer[]): fc.Arbitrary<Read> {
  const computed = computedFields(layers)
  const has = (name: string) => layers.some((l) => l.ingredient === name)
  const plain = query(computed)
  const entries: { weight: number; arbitrary: fc.Arbitrary<Read> }[] = [
    { weight: 6, arbitrary: plain.map((q) => ({ entry: 'routed' as const, query: q })) },
    { weight: 2, arbitrary: plain.map((q) => ({ entry: 'replica' as const, query: q })) },
    { weight: 1, arbitrary: plain.map((q) => ({ entry: 'primary' as const, query: q })) },
    { weight: 1, arbitrary: fc.tuple(plain, plain).map(([q, second]) => ({ entry: 'batch' as const, query: q, second })) },
    { weight: 1, arbitrary: plain.map((q) => ({ entry: 'interactive' as const, query: q })) },
    { weight: 2, arbitrary: plain.map((q) => ({ entry: 'replica-transaction' as const, query: q })) },
    { weight: 2, arbitrary: fc.tuple(plain, write()).map(([q, w]) => ({ entry: 'scope-after-write' as const, query: q, write: w })) },
    { weight: 2, arbitrary: fluent(computed).map((q) => ({ entry: 'fluent' as const, query: q })) },
  ]
  if (has('model-methods')) {
    entries.push({
      weight: 1,
      arbitrary: fc
        .constantFrom(...DATA.members.map((m) => m.handle), 'nobody')
        .map((handle) => ({ entry: 'model-method' as const, query: { model: 'Member' as const, operation: 'byHandle', args: handle } })),
    })
  }
  if (has('client-methods')) {
    entries.push({
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 12 }).map((id) => ({ entry: 'client-method' as const, query: { model: 'Rating' as const, operation: '$ratingsOf', args: id } })),
    })
  }
  if (has('captured-reader')) {
    entries.push({
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 12 }).map((id) => ({ entry: 'captured-reader' as const, query: { model: 'Article' as const, operation: 'recentOf', args: id } })),
    })
  }
  return fc.oneof(...entries)
}

/** An extension stack: up to four ingredients, each before or after the router, in order. */
export const layers: fc.Arbitrary<Layer[]> = fc.uniqueArray(
  fc.record({ ingredient: fc.constantFrom(...INGREDIENT_NAMES), position: fc.constantFrom('before' as const, 'after' as const) }),
  {
    maxLength: 4,
    selector: (l) => l.ingredient,
  },
)

/** A client's global `omit`, or none. */
const omitConfig: fc.Arbitrary<Case['omit']> = fc.option(
  fc.constantFrom<Case['omit']>({ member: { avatar: true } }, { member: { profile: true, balance: true } }, { article: { body: true } }),
  { nil: undefined, freq: 3 },
)

/** A case: a stack, a global `omit`, and `min`..`max` reads through it. */
export function caseOf(min: number, max: number): fc.Arbitrary<Case> {
  return fc
    .record({ layers, omit: omitConfig, errorFormat: fc.constantFrom('minimal' as const, 'minimal' as const, 'colorless' as const) })
    .chain(({ layers: l, omit, errorFormat }) => fc.array(read(l), { minLength: min, maxLength: max }).map((reads) => ({ layers: l, omit, errorFormat, reads })))
}
