import { describe, expect, it } from 'vitest'
import { forClientWithout } from '../../src/prisma/computed-fields.ts'
import type { ComputedField, ModelShapes } from '../../src/prisma/internals.ts'

/**
 * User { id, email, name, password, posts -> Post }: computed `tag` (needs email), `both` (needs email, name),
 * `password` (needs nothing: masks the real column), `posts` (needs id: shares the relation's name).
 * Post { id, title, author -> User }: computed `headline` (needs title).
 */
const computed: Record<string, Record<string, ComputedField>> = {
  User: { tag: { name: 'tag', needs: ['email'] }, both: { name: 'both', needs: ['email', 'name'] } },
  Post: { headline: { name: 'headline', needs: ['title'] } },
}
const fields: Record<string, Record<string, string | null>> = {
  User: { id: null, email: null, name: null, password: null, posts: 'Post' },
  Post: { id: null, title: null, author: 'User' },
}
function shapesWith(extra: Record<string, Record<string, ComputedField>> = {}, globalOmit: Record<string, Record<string, boolean>> = {}): ModelShapes {
  return {
    computed: (model) => (computed[model] || extra[model] ? { ...computed[model], ...extra[model] } : undefined),
    relation: (model, field) => fields[model]?.[field] ?? undefined,
    isField: (model, field) => fields[model] !== undefined && field in fields[model],
    globalOmit: (model) => globalOmit[model.charAt(0).toLowerCase() + model.slice(1)],
  }
}
const shapes = shapesWith()

describe('forClientWithout: read arguments for a client without the computed fields (as Prisma serializes them)', () => {
  it('select: a selected computed field adds its needs and leaves; a deselected one just leaves', () => {
    expect(forClientWithout({ where: { id: 1 }, select: { id: true, tag: true } }, 'User', shapes)).toEqual({ where: { id: 1 }, select: { id: true, email: true } })
    expect(forClientWithout({ select: { both: true, email: false } }, 'User', shapes)).toEqual({ select: { email: true, name: true } })
    expect(forClientWithout({ select: { id: true, tag: false } }, 'User', shapes)).toEqual({ select: { id: true } })
  })

  it('omit: a computed field not omitted keeps its needs; computed fields leave omit', () => {
    expect(forClientWithout({ omit: { email: true } }, 'User', shapes)).toEqual({ omit: {} })
    expect(forClientWithout({ omit: { email: true, tag: true, both: true } }, 'User', shapes)).toEqual({ omit: { email: true } })
    expect(forClientWithout({ omit: { email: true, tag: true } }, 'User', shapes)).toEqual({ omit: {} })
  })

  it('a computed field overriding a real column (a mask) stays: omitted stays omitted, selected stays selected', () => {
    const masked = shapesWith({ User: { password: { name: 'password', needs: [] } } })
    const omit = { omit: { password: true } }
    expect(forClientWithout(omit, 'User', masked)).toBe(omit)
    const select = { select: { id: true, password: true } }
    expect(forClientWithout(select, 'User', masked)).toBe(select)
  })

  it('a computed field named like a relation adds its needs and keeps the relation', () => {
    const named = shapesWith({ User: { posts: { name: 'posts', needs: ['id'] } } })
    expect(forClientWithout({ select: { posts: true } }, 'User', named)).toEqual({ select: { posts: true, id: true } })
  })

  it("the client's omit setting: a need it omits is asked for with false, at any depth", () => {
    const global = shapesWith({}, { user: { email: true }, post: { title: true } })
    expect(forClientWithout(undefined, 'User', global)).toEqual({ omit: { email: false } })
    expect(forClientWithout({ omit: { tag: true, both: true } }, 'User', global)).toEqual({ omit: {} })
    expect(forClientWithout({ include: { posts: true } }, 'User', global)).toEqual({ omit: { email: false }, include: { posts: { omit: { title: false } } } })
  })

  it('relations, selected or included, are rewritten with their own model, at any depth', () => {
    expect(forClientWithout({ include: { author: { select: { tag: true } } } }, 'Post', shapes)).toEqual({ include: { author: { select: { email: true } } } })
    expect(forClientWithout({ select: { tag: true, posts: { select: { headline: true, author: { omit: { email: true } } } } } }, 'User', shapes)).toEqual({
      select: { email: true, posts: { select: { title: true, author: { omit: {} } } } },
    })
  })

  it('returns the very arguments when nothing changes (no copy on the read path)', () => {
    const args = { where: { id: 1 }, select: { id: true, posts: { select: { title: true } } }, orderBy: { id: 'asc' } }
    expect(forClientWithout(args, 'User', shapes)).toBe(args)
    const include = { include: { posts: true } }
    expect(forClientWithout(include, 'User', shapes)).toBe(include)
    expect(forClientWithout(undefined, 'User', shapes)).toBeUndefined()
    // `_count` is no relation: left alone.
    const counted = { select: { _count: { select: { posts: true } } } }
    expect(forClientWithout(counted, 'User', shapes)).toBe(counted)
  })

  it('never changes the arguments it is given', () => {
    const args = { select: { tag: true, posts: { select: { headline: true } } } }
    const copy = structuredClone(args)
    forClientWithout(args, 'User', shapes)
    expect(args).toEqual(copy)
  })
})
