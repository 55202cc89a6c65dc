/**
 * The MariaDB / MySQL dialect (src/dialects/mysql-family.ts) over scripted server answers: which engine
 * answers, the query text each engine gets, parsing, and what is not a replica. MariaDB runs for real in the
 * db tests; MySQL only here (no MySQL server can be installed where this is built).
 */
import { describe, expect, it } from 'vitest'
import { MARIADB_PRIMARY_SQL, MARIADB_REPLICA_SQL, MYSQL_PRIMARY_SQL, MYSQL_REPLICA_SQL, mysqlFamily } from '../../src/dialects/mysql-family.ts'
import type { Row, ServerLink } from '../../src/server-link.ts'

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562'

/** A link answering `VERSION()` with `version`, and every other query from `answers` (by SQL text). */
function link(version: string, answers: Record<string, Row>) {
  const sent: string[] = []
  const serverLink: ServerLink = {
    own: true,
    open: true,
    query: (sql: string) => {
      sent.push(sql)
      if (sql === 'SELECT VERSION() AS v') return Promise.resolve([{ v: version }])
      const row = answers[sql]
      return row ? Promise.resolve([row]) : Promise.reject(Object.assign(new Error(`Unknown system variable in ${sql}`), { errno: 1193 }))
    },
    reconnect: () => undefined,
    reset: () => undefined,
    release: () => undefined,
    close: () => Promise.resolve(),
  }
  return { serverLink, sent }
}

describe('the MariaDB / MySQL dialect', () => {
  it('MySQL 8: @@GLOBAL.gtid_executed on both sides, a GTID set; the engine asked once per connection', async () => {
    const { serverLink, sent } = link('8.0.36', {
      [MYSQL_PRIMARY_SQL]: { pos: `${UUID}:1-100` },
      [MYSQL_REPLICA_SQL]: { pos: `${UUID}:1-90`, ro: 1n, server: 'db2:3306#2' },
    })
    const primary = await mysqlFamily.primaryPosition(serverLink, false)
    const replica = await mysqlFamily.replicaPosition(serverLink, false)
    expect([primary?.toString(), replica.lsn?.toString(), replica.server]).toEqual([`${UUID}:1-100`, `${UUID}:1-90`, 'db2:3306#2'])
    expect(sent.filter((sql) => sql === 'SELECT VERSION() AS v')).toHaveLength(1)
    expect(MYSQL_PRIMARY_SQL).toBe('SELECT @@GLOBAL.gtid_executed AS pos')
  })

  it('MariaDB: @@gtid_binlog_pos on the primary, @@gtid_slave_pos on a replica; a writable server is no replica', async () => {
    const { serverLink } = link('10.11.19-MariaDB-0+deb12u1', {
      [MARIADB_PRIMARY_SQL]: { pos: '0-1-1836' },
      [MARIADB_REPLICA_SQL]: { pos: '0-1-1800', ro: 0, server: 'db3:3306#3' },
    })
    expect((await mysqlFamily.primaryPosition(serverLink, false))?.toString()).toBe('0-1-1836')
    expect(await mysqlFamily.replicaPosition(serverLink, false)).toEqual({ lsn: undefined, server: 'db3:3306#3' })
  })

  it('cannot report positions: unknown variable, syntax, no privilege, or a value that is no position', async () => {
    const { serverLink } = link('5.7.44', {})
    const error = await mysqlFamily.primaryPosition(serverLink, false).catch((e: unknown) => e)
    expect(mysqlFamily.positionUnavailable(error)).toBe(true)
    const garbage = link('8.0.36', { [MYSQL_PRIMARY_SQL]: { pos: 'not a set' } })
    expect(mysqlFamily.positionUnavailable(await mysqlFamily.primaryPosition(garbage.serverLink, false).catch((e: unknown) => e))).toBe(true)
    expect(mysqlFamily.positionUnavailable(Object.assign(new Error('lost'), { errno: 2013 }))).toBe(false)
  })
})

describe('the replica’s own view of its lag (Seconds_Behind_Master)', () => {
  it('asked by the health check where permitted; a refusal (no privilege) stops asking; never on a read’s check', async () => {
    const status: Record<string, Row> = { 'SHOW SLAVE STATUS': { Seconds_Behind_Master: 3n } }
    const { serverLink, sent } = link('10.11.19-MariaDB', { [MARIADB_REPLICA_SQL]: { pos: '0-1-5', ro: 1, server: 's#2' }, ...status })
    expect((await mysqlFamily.replicaPosition(serverLink, false)).serverSeconds).toBe(3)
    expect((await mysqlFamily.replicaPosition(serverLink, true)).serverSeconds).toBeUndefined()
    expect(sent.filter((sql) => sql === 'SHOW SLAVE STATUS')).toHaveLength(1)
    const stopped = link('10.11.19-MariaDB', { [MARIADB_REPLICA_SQL]: { pos: '0-1-5', ro: 1, server: 's#2' }, 'SHOW SLAVE STATUS': { Seconds_Behind_Master: null } })
    expect((await mysqlFamily.replicaPosition(stopped.serverLink, false)).serverSeconds).toBeNull() // applier stopped
    const refused = link('10.11.19-MariaDB', { [MARIADB_REPLICA_SQL]: { pos: '0-1-5', ro: 1, server: 's#2' } })
    for (let i = 0; i < 3; i++) expect((await mysqlFamily.replicaPosition(refused.serverLink, false)).serverSeconds).toBeUndefined()
    expect(refused.sent.filter((sql) => sql === 'SHOW SLAVE STATUS')).toHaveLength(1)
  })
})
