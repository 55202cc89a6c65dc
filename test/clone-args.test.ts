import { describe, expect, it } from 'vitest'
import { Prisma } from '../generated/prisma/client.ts'
import { cloneArgs } from '../src/clone-args.ts'

describe('cloneArgs: a query extension callback’s own copy of the arguments', () => {
  it('copies plain objects and arrays deeply: changing the copy changes nothing of the original', () => {
    const args = { where: { OR: [{ id: 1 }, { email: { in: ['a', 'b'] } }] }, take: 2 }
    const copy = cloneArgs(args) as typeof args
    expect(copy).toEqual(args)
    copy.where.OR[1]!.email!.in.push('c')
    copy.take = 3
    expect(args).toEqual({ where: { OR: [{ id: 1 }, { email: { in: ['a', 'b'] } }] }, take: 2 })
  })

  it('copies dates and binary values; passes Prisma values and other class instances as they are', () => {
    const date = new Date(0)
    const bytes = new Uint8Array([1, 2])
    const decimal = new Prisma.Decimal('1.5')
    const copy = cloneArgs({ date, bytes, decimal, json: Prisma.DbNull, field: Prisma.AnyNull }) as Record<string, unknown>
    expect(copy.date).toEqual(date)
    expect(copy.date).not.toBe(date)
    expect(copy.bytes).toEqual(bytes)
    expect(copy.bytes).not.toBe(bytes)
    expect(copy.decimal).toBe(decimal)
    expect(copy.json).toBe(Prisma.DbNull)
    expect(copy.field).toBe(Prisma.AnyNull)
  })

  it('gives `{}` for no arguments, keeps an own `__proto__` key an own key, and copies null-prototype objects', () => {
    expect(cloneArgs(undefined)).toEqual({})
    const tricky = JSON.parse('{"__proto__": {"polluted": true}}') as object
    const copy = cloneArgs(tricky) as Record<string, unknown>
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.keys(copy)).toEqual(['__proto__'])
    const bare = Object.assign(Object.create(null) as object, { a: { b: 1 } })
    expect(cloneArgs(bare)).toEqual({ a: { b: 1 } })
  })
})
