/**
 * Reads with computed fields (result extensions) on a client that lacks them. Prisma serializes a query for the
 * database with each computed field replaced by the fields it needs, and computes the field from them once the
 * rows are back (then drops the needed fields that were not asked for). A replica read runs on the replica's own
 * client, without the application's extensions, while its result is still computed by the application's client:
 * so the replica must be asked what Prisma would have asked the database, and it must return rows as the
 * database does. {@link forClientWithout} rewrites the arguments that way, following Prisma's own rules (its
 * serializer's selection of a model's fields):
 * - `select`: each computed field selected adds its needs; a computed field that is not also a real field (a
 *   computed field may override a scalar or share a relation's name) leaves `select`;
 * - otherwise the client's `omit` setting for the model and the query's `omit` together: a computed field that
 *   is not omitted keeps its needs from being omitted; a computed field that is not a real field leaves `omit`;
 *   what the client's `omit` setting omitted and must now be read is asked for with `false` (the replica's
 *   client has the same setting);
 * - the same on every relation selected or included, with that relation's model.
 * Only the `find*` operations shape rows with computed fields (`count`, `aggregate`, `groupBy` do not).
 */
import type { ComputedField, ModelShapes } from './internals.js'

type Args = Readonly<Record<string, unknown>>
type Computed = Readonly<Record<string, ComputedField>>

/** The operations whose rows carry computed fields. */
export const ROW_OPERATIONS: ReadonlySet<string> = new Set(['findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow', 'findMany'])

function isArgs(value: unknown): value is Args {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * `args` of a `find*` read of `model`, for a client without the computed fields of `shapes`; `args` itself when
 * nothing changes (and for other values than an object).
 */
export function forClientWithout(args: unknown, model: string, shapes: ModelShapes): unknown {
  if (args !== undefined && !isArgs(args)) return args
  const given: Args = args ?? {}
  const computed = shapes.computed(model)
  let rewritten: Record<string, unknown> | undefined
  const set = (key: string, value: unknown): void => {
    rewritten ??= { ...given }
    rewritten[key] = value
  }
  if (isArgs(given.select)) {
    const select = selection(given.select, model, computed, shapes)
    if (select !== given.select) set('select', select)
  } else {
    if (computed) {
      const omit = omission(isArgs(given.omit) ? given.omit : undefined, model, computed, shapes)
      if (omit !== given.omit) set('omit', omit)
    }
    if (isArgs(given.include)) {
      const include = relations(given.include, model, shapes)
      if (include !== given.include) set('include', include)
    }
  }
  return rewritten ?? args
}

/** A computed field that Prisma leaves out of the query it sends: one that is not also a real field. */
function onlyComputed(computed: Computed | undefined, key: string, model: string, shapes: ModelShapes): boolean {
  return computed !== undefined && Object.hasOwn(computed, key) && !shapes.isField(model, key)
}

function selection(select: Args, model: string, computed: Computed | undefined, shapes: ModelShapes): Args {
  let out: Record<string, unknown> | undefined
  if (computed) {
    for (const field of Object.values(computed)) {
      if (!select[field.name]) continue
      for (const need of field.needs) {
        if (select[need] === true) continue
        out ??= { ...select }
        out[need] = true
      }
    }
    for (const key of Object.keys(select)) {
      if (!onlyComputed(computed, key, model, shapes)) continue
      out ??= { ...select }
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a field name
      delete out[key]
    }
  }
  const current = out ?? select
  return relations(current, model, shapes)
}

/** The `omit` to send (`omit` itself when nothing changes; `undefined` stays `undefined` when nothing is needed). */
function omission(omit: Args | undefined, model: string, computed: Computed, shapes: ModelShapes): Args | undefined {
  const global = shapes.globalOmit(model)
  const effective: Record<string, unknown> = { ...global, ...omit }
  const unomitted = new Set<string>()
  for (const field of Object.values(computed)) {
    if (effective[field.name]) continue
    for (const need of field.needs) if (effective[need]) unomitted.add(need)
  }
  let out: Record<string, unknown> | undefined
  for (const need of unomitted) {
    out ??= { ...omit }
    // Omitted by the query: drop it; omitted by the client's setting: override it.
    if (global?.[need]) out[need] = false
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a field name
    else delete out[need]
  }
  for (const key of Object.keys(omit ?? {})) {
    if (!onlyComputed(computed, key, model, shapes)) continue
    out ??= { ...omit }
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a field name
    delete out[key]
  }
  return out ?? omit
}

/** `selected` (a `select` or `include`) with the arguments of each relation in it rewritten for its model. */
function relations(selected: Args, model: string, shapes: ModelShapes): Args {
  let out: Record<string, unknown> | undefined
  for (const [key, value] of Object.entries(selected)) {
    if (value !== true && !isArgs(value)) continue
    const target = shapes.relation(model, key)
    if (target === undefined) continue
    // `true`: the relation's default selection, which computed fields of its model may change too.
    const args = forClientWithout(value === true ? undefined : value, target, shapes)
    if (args === undefined || args === value) continue
    out ??= { ...selected }
    out[key] = args
  }
  return out ?? selected
}
