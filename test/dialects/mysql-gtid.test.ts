import { describe, expect, it } from 'vitest'
import { MysqlGtidSet } from '../../src/dialects/mysql-gtid.ts'
import { isReplicaRouterError } from '../../src/index.ts'

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562'
const B = '4f21fb58-82db-22f2-0f44-d91bb0530673'
const s = (text: string) => MysqlGtidSet.parse(text)

describe('MySQL GTID sets (pure logic; the grammar of the MySQL 8 manual: no MySQL server could be run here)', () => {
  it('parses what MySQL prints (gaps, several sources, newlines, upper case, 8.3 tags) and prints it normalized', () => {
    expect(s(`${A}:1-5:11-18`).toString()).toBe(`${A}:1-5:11-18`)
    expect(s(`${B}:1-3,\n${A.toUpperCase()}:1-5:6-7:9`).toString()).toBe(`${A}:1-7:9,${B}:1-3`)
    expect(s(`${A}:1-5:tag_a:1-3`).toString()).toBe(`${A}:1-5,${A}:tag_a:1-3`)
    expect(s('').toString()).toBe('')
  })

  it('covers a subset only: a gap (parallel appliers) is not covered until it is filled', () => {
    expect(s(`${A}:1-100`).covers(s(`${A}:1-100`))).toBe(true)
    expect(s(`${A}:1-100`).covers(s(`${A}:50`))).toBe(true)
    expect(s(`${A}:1-49:51-100`).covers(s(`${A}:1-60`))).toBe(false)
    expect(s(`${A}:1-49:51-100`).covers(s(`${A}:52-60`))).toBe(true)
    expect(s(`${A}:1-100`).covers(s(`${A}:1-100,${B}:1`))).toBe(false)
    expect(s(`${A}:1-5`).covers(s(`${A}:tag_a:1`))).toBe(false) // a tagged GTID is another source
    expect(s('').covers(s(''))).toBe(true)
  })

  it('joins as a union, and counts the transactions a set lacks', () => {
    expect(
      s(`${A}:1-5`)
        .join(s(`${A}:6-9,${B}:2`))
        .toString(),
    ).toBe(`${A}:1-9,${B}:2`)
    expect(s(`${A}:1-49:51-100`).behind(s(`${A}:1-120`))).toBe(21n)
    expect(s(`${A}:1-120`).behind(s(`${A}:1-100`))).toBe(0n)
  })

  it.each(['x:1-5', A, `${A}:`, `${A}:0`, `${A}:5-3`, `${A}:1-5;DROP`, `${A}:Tag-1:1`])('refuses %j with a typed error', (text) => {
    let error: unknown
    try {
      s(text)
    } catch (e) {
      error = e
    }
    expect(isReplicaRouterError(error)).toBe(true)
    expect((error as Error).message).toMatch(/^Not a MySQL GTID set: /)
  })
})
