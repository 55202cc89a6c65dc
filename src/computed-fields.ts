/**
 * Reads with computed fields (result extensions) on a client that lacks them. Prisma serializes a query for the
 * database with each computed field replaced by the fields it needs, and computes the field from them once the
 * rows are back (then drops the needed fields that were not asked for). A replica read runs on the replica's own
 * client, without the application's extensions, while its result is still computed by the application's client:
 * so the replica must be asked what Prisma would have asked the database, and it must return rows as the
 * database does. {@link forClientWithout} rewrites the arguments that way, following Prisma's own rules:
 * - `select`: a selected computed field is replaced by its needs;
 * - `omit` (or no `select`): a computed field that is not omitted keeps its needs from being omitted; computed
 *   fields are removed from `omit`;
 * - the same on every relation selected or included, with that relation's model.
 */
import type { ComputedField, ModelShapes } from './prisma-internals.js'

type Args = Readonly<Record<string, unknown>>

function isArgs(value: unknown): value is Args {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `args` of a read of `model`, for a client without the computed fields of `shapes`; `args` itself when nothing changes. */
export function forClientWithout(args: unknown, model: string, shapes: ModelShapes): unknown {
  if (!isArgs(args)) return args
  const computed = shapes.computed(model)
  let rewritten: Record<string, unknown> | undefined
  const set = (key: string, value: unknown): void => {
    rewritten ??= { ...args }
    rewritten[key] = value
  }
  if (isArgs(args.select)) {
    const select = selection(args.select, model, computed, shapes)
    if (select !== args.select) set('select', select)
  } else {
    if (computed && isArgs(args.omit)) {
      const omit = omission(args.omit, computed)
      if (omit !== args.omit) set('omit', omit)
    }
    if (isArgs(args.include)) {
      const include = relations(args.include, model, shapes)
      if (include !== args.include) set('include', include)
    }
  }
  return rewritten ?? args
}

function isComputed(computed: Readonly<Record<string, ComputedField>> | undefined, key: string, model: string, shapes: ModelShapes): boolean {
  return computed !== undefined && Object.hasOwn(computed, key) && shapes.relation(model, key) === undefined
}

function selection(select: Args, model: string, computed: Readonly<Record<string, ComputedField>> | undefined, shapes: ModelShapes): Args {
  let out: Record<string, unknown> | undefined
  if (computed) {
    for (const field of Object.values(computed)) {
      if (!isComputed(computed, field.name, model, shapes) || select[field.name] === undefined) continue
      out ??= { ...select }
      const wanted = Boolean(select[field.name])
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a field name
      delete out[field.name]
      if (wanted) for (const need of field.needs) out[need] = true
    }
  }
  const nested = relations(out ?? select, model, shapes)
  return nested !== (out ?? select) ? nested : (out ?? select)
}

function omission(omit: Args, computed: Readonly<Record<string, ComputedField>>): Args {
  let out: Record<string, unknown> | undefined
  for (const field of Object.values(computed)) {
    const omitted = Boolean(omit[field.name])
    if (!omitted) {
      for (const need of field.needs) {
        if (omit[need] === undefined) continue
        out ??= { ...omit }
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a field name
        delete out[need]
      }
    }
    if (Object.hasOwn(omit, field.name)) {
      out ??= { ...omit }
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a field name
      delete out[field.name]
    }
  }
  return out ?? omit
}

/** `selected` (a `select` or `include`) with the arguments of each relation in it rewritten for its model. */
function relations(selected: Args, model: string, shapes: ModelShapes): Args {
  let out: Record<string, unknown> | undefined
  for (const [key, value] of Object.entries(selected)) {
    if (!isArgs(value)) continue
    const target = shapes.relation(model, key)
    if (target === undefined) continue
    const args = forClientWithout(value, target, shapes)
    if (args === value) continue
    out ??= { ...selected }
    out[key] = args
  }
  return out ?? selected
}
