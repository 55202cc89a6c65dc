import { describe, expect, it } from 'vitest'
import { forClientWithout } from '../src/computed-fields.ts'
import type { ComputedField, ModelShapes } from '../src/prisma-internals.ts'

/** User { tag needs email; both needs email,name } -posts-> Post { headline needs title } -author-> User. */
const computed: Record<string, Record<string, ComputedField>> = {
  User: { tag: { name: 'tag', needs: ['email'] }, both: { name: 'both', needs: ['email', 'name'] } },
  Post: { headline: { name: 'headline', needs: ['title'] } },
}
const relations: Record<string, Record<string, string>> = { User: { posts: 'Post' }, Post: { author: 'User' } }
const shapes: ModelShapes = {
  computed: (model) => computed[model],
  relation: (model, field) => relations[model]?.[field],
}

describe('forClientWithout: read arguments for a client without the computed fields (as Prisma serializes them)', () => {
  it('select: a selected computed field is replaced by its needs; a deselected one is dropped', () => {
    expect(forClientWithout({ where: { id: 1 }, select: { id: true, tag: true } }, 'User', shapes)).toEqual({ where: { id: 1 }, select: { id: true, email: true } })
    expect(forClientWithout({ select: { both: true, email: false } }, 'User', shapes)).toEqual({ select: { email: true, name: true } })
    expect(forClientWithout({ select: { id: true, tag: false } }, 'User', shapes)).toEqual({ select: { id: true } })
  })

  it('omit: a computed field not omitted keeps its needs; computed fields leave omit', () => {
    expect(forClientWithout({ omit: { email: true } }, 'User', shapes)).toEqual({ omit: {} })
    expect(forClientWithout({ omit: { email: true, tag: true, both: true } }, 'User', shapes)).toEqual({ omit: { email: true } })
    expect(forClientWithout({ omit: { email: true, tag: true } }, 'User', shapes)).toEqual({ omit: {} })
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
