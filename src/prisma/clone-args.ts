/**
 * A copy of a query's arguments for a query extension callback, as Prisma gives each callback one (its
 * `deepCloneArgs`): the callback may change it without changing the caller's object or what another callback
 * sees. Every object is copied into a plain one (a class instance too: an application's DTO), arrays deeply,
 * dates and binary values copied; Prisma's own values are passed as they are, as Prisma does: `Prisma.DbNull` and
 * the other null types, `Prisma.skip`, field references (`prisma.user.fields.email`), and decimals (immutable;
 * Prisma makes an equal one).
 *
 * Prisma's values are recognised by the methods of their classes, which the runtime does not all export:
 * `_getNamespace` (null types), `ifUndefined` (`skip`), `_toGraphQLInputType` (field references); a decimal by
 * `decimal.js`'s shape. test/prisma/clone-args.test.ts checks each against the Prisma Client in use.
 */
export function cloneArgs(args: unknown): unknown {
  return cloneValue(args ?? {})
}

function isPrismaValue(value: object): boolean {
  const v = value as { _getNamespace?: unknown; ifUndefined?: unknown; _toGraphQLInputType?: unknown; s?: unknown; e?: unknown; d?: unknown; toFixed?: unknown }
  return (
    typeof v._getNamespace === 'function' ||
    typeof v.ifUndefined === 'function' ||
    typeof v._toGraphQLInputType === 'function' ||
    (typeof v.s === 'number' && typeof v.e === 'number' && typeof v.toFixed === 'function' && Array.isArray(v.d))
  )
}

function cloneValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) copy[i] = cloneValue(value[i])
    return copy
  }
  if (isPrismaValue(value)) return value
  // A date of another realm (a worker) too, as Prisma tells them.
  if (value instanceof Date || Object.prototype.toString.call(value) === '[object Date]') return new Date((value as Date).getTime())
  if (ArrayBuffer.isView(value)) return (value as unknown as { slice(start: number): unknown }).slice(0)
  const copy: Record<string, unknown> = {}
  for (const key in value) {
    const field = cloneValue((value as Record<string, unknown>)[key])
    // `__proto__` as an own key stays an own key (an assignment would set the prototype).
    if (key === '__proto__') Object.defineProperty(copy, key, { value: field, configurable: true, enumerable: true, writable: true })
    else copy[key] = field
  }
  return copy
}
