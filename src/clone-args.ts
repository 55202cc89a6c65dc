/**
 * A copy of a query's arguments for a query extension callback, as Prisma gives each callback one: the
 * callback may change it without changing the caller's object or what another callback sees. Plain objects and
 * arrays are copied deeply, dates and binary values copied; every other object (a `Decimal`, `Prisma.DbNull`,
 * `Prisma.skip`, a field reference, a class instance) is passed as it is: Prisma's own values are immutable.
 */
export function cloneArgs(args: unknown): unknown {
  return cloneValue(args ?? {})
}

function cloneValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) copy[i] = cloneValue(value[i])
    return copy
  }
  const prototype: unknown = Object.getPrototypeOf(value)
  if (prototype === Object.prototype || prototype === null) {
    const copy: Record<string, unknown> = {}
    for (const key in value) {
      const field = cloneValue((value as Record<string, unknown>)[key])
      // `__proto__` as an own key stays an own key (an assignment would set the prototype).
      if (key === '__proto__') Object.defineProperty(copy, key, { value: field, configurable: true, enumerable: true, writable: true })
      else copy[key] = field
    }
    return copy
  }
  if (value instanceof Date) return new Date(value.getTime())
  if (ArrayBuffer.isView(value)) return (value as unknown as { slice(start: number): unknown }).slice(0)
  return value
}
