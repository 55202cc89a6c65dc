import { describe, expect, it } from 'vitest'
import { MariadbGtidPosition } from '../../src/dialects/mariadb-gtid.ts'
import { isReplicaRouterError } from '../../src/index.ts'

const p = (text: string) => MariadbGtidPosition.parse(text)

describe('MariaDB GTID positions (pure logic; on real servers: test/read-your-writes.mariadb.db.test.ts)', () => {
  it('parses what MariaDB prints, one or several domains, and prints it back in domain order', () => {
    expect(p('0-1-1836').toString()).toBe('0-1-1836')
    expect(p('1-2-40,0-1-1836').toString()).toBe('0-1-1836,1-2-40')
    expect(p('').toString()).toBe('')
    expect(p(' 0-1-5 , 1-1-2 ').toString()).toBe('0-1-5,1-1-2')
  })

  it('compares per domain: covered when every domain of the required position is reached, whichever server wrote it', () => {
    expect(p('0-1-10').covers(p('0-1-10'))).toBe(true)
    expect(p('0-1-10').covers(p('0-1-11'))).toBe(false)
    expect(p('0-2-12').covers(p('0-1-11'))).toBe(true) // after a switchover, strict mode keeps sequences growing
    expect(p('0-1-10').covers(p('0-1-5,1-1-1'))).toBe(false) // domain 1 never seen
    expect(p('0-1-10,1-1-3').covers(p('1-1-3'))).toBe(true)
    expect(p('0-1-10').covers(p(''))).toBe(true)
    expect(p('').covers(p('0-1-1'))).toBe(false)
  })

  it('joins per domain (the higher sequence), and counts the transactions a position is behind', () => {
    expect(p('0-1-10,1-1-3').join(p('0-1-8,1-1-7,2-1-1')).toString()).toBe('0-1-10,1-1-7,2-1-1')
    const ahead = p('0-1-10')
    expect(ahead.join(p('0-1-3'))).toBe(ahead) // no new object when one covers the other
    expect(p('0-1-7,1-1-2').behind(p('0-1-10,1-1-5'))).toBe(6n)
    expect(p('0-1-12').behind(p('0-1-10'))).toBe(0n)
  })

  it.each(['0-1', '0-1-x', 'a-b-c', '0-1-1;DROP', '0-1-99999999999999999999', '4294967296-1-1', '0-1-1,,'])(
    'refuses %j with a typed error that quotes at most 60 characters',
    (text) => {
      let error: unknown
      try {
        p(text)
      } catch (e) {
        error = e
      }
      expect(isReplicaRouterError(error)).toBe(true)
      expect((error as Error).message).toMatch(/^Not a MariaDB GTID position: /)
    },
  )
})
