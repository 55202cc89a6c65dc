import { describe, expect, it } from 'vitest'
import { ClientActions } from '../../src/prisma/client-actions.ts'

/** A client whose model property builds its actions anew on every access, as Prisma's proxies do; counted. */
function countingClient() {
  const gets: string[] = []
  const client = {
    get noteItem() {
      gets.push('noteItem')
      return {
        findMany: (args: unknown) => Promise.resolve({ findMany: args }),
        count: (args: unknown) => Promise.resolve({ count: args }),
      }
    },
  }
  return { client, gets }
}

describe('ClientActions', () => {
  it('looks up each action of a model once (the property named as Prisma names it) and calls it with the arguments', async () => {
    const { client, gets } = countingClient()
    const actions = new ClientActions(client)
    const findMany = actions.get('NoteItem', 'findMany')
    expect(findMany).toBeTypeOf('function')
    expect(actions.get('NoteItem', 'findMany')).toBe(findMany)
    expect(gets).toEqual(['noteItem'])
    await expect(actions.get('NoteItem', 'count')?.({ where: { id: 1 } })).resolves.toEqual({ count: { where: { id: 1 } } })
    expect(actions.get('NoteItem', 'count')).not.toBe(findMany)
    expect(gets).toEqual(['noteItem', 'noteItem'])
  })

  it('answers undefined for a model or operation the client lacks, and does not remember the miss', () => {
    const { client, gets } = countingClient()
    const actions = new ClientActions(client)
    expect(actions.get('Missing', 'findMany')).toBeUndefined()
    expect(actions.get('NoteItem', 'aggregate')).toBeUndefined()
    expect(actions.get('NoteItem', 'aggregate')).toBeUndefined()
    expect(gets).toEqual(['noteItem', 'noteItem'])
  })

  it("knows whether the client records call sites (Prisma's `minimal` error format records none)", () => {
    expect(new ClientActions({ _errorFormat: 'minimal' }).recordsCallSites).toBe(false)
    expect(new ClientActions({ _errorFormat: 'colorless' }).recordsCallSites).toBe(true)
    expect(new ClientActions({}).recordsCallSites).toBe(true)
  })
})
