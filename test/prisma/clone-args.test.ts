import { describe, expect, it } from 'vitest'
import { Prisma, PrismaClient } from '../../generated/prisma/client.ts'
import { skip } from '@prisma/client/runtime/client'
import { cloneArgs } from '../../src/prisma/clone-args.ts'
import { PrismaPg } from '@prisma/adapter-pg'

describe('cloneArgs: a query extension callback’s own copy of the arguments', () => {
  it('copies plain objects and arrays deeply: changing the copy changes nothing of the original', () => {
    const args = { where: { OR: [{ id: 1 }, { email: { in: ['a', 'b'] } }] }, take: 2 }
    const copy = cloneArgs(args) as typeof args
    expect(copy).toEqual(args)
    copy.where.OR[1]!.email!.in.push('c')
    copy.take = 3
    expect(args).toEqual({ where: { OR: [{ id: 1 }, { email: { in: ['a', 'b'] } }] }, take: 2 })
  })

  it('copies dates and binary values; passes Prisma values as they are (checked against this Prisma Client)', () => {
    const date = new Date(0)
    const bytes = new Uint8Array([1, 2])
    const decimal = new Prisma.Decimal('1.5')
    // Never connects: only its model's field reference is used.
    const field = new PrismaClient({ adapter: new PrismaPg({ connectionString: 'postgresql://unused@127.0.0.1:1/none' }) }).user.fields.email
    const copy = cloneArgs({ date, bytes, decimal, db: Prisma.DbNull, json: Prisma.JsonNull, any: Prisma.AnyNull, skip, field }) as Record<string, unknown>
    expect(copy.date).toEqual(date)
    expect(copy.date).not.toBe(date)
    expect(copy.bytes).toEqual(bytes)
    expect(copy.bytes).not.toBe(bytes)
    for (const key of ['decimal', 'db', 'json', 'any', 'skip', 'field'])
      expect(copy[key], `${key} is Prisma's own value: passed as it is`).toBe(
        ({ decimal, db: Prisma.DbNull, json: Prisma.JsonNull, any: Prisma.AnyNull, skip, field } as Record<string, unknown>)[key],
      )
  })

  it('copies a class instance (an application DTO) into a plain object, as Prisma does: a callback cannot change the caller’s', () => {
    class Where {
      email = 'a@x'
    }
    class Args {
      where = new Where()
      take = 1
    }
    const args = new Args()
    const copy = cloneArgs(args) as { where: Record<string, unknown>; take: number }
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.getPrototypeOf(copy.where)).toBe(Object.prototype)
    copy.where.name = 'tenant'
    expect(copy).toEqual({ where: { email: 'a@x', name: 'tenant' }, take: 1 })
    expect(Object.keys(args.where)).toEqual(['email'])
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
