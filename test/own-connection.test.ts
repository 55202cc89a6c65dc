import { describe, expect, it } from 'vitest'
import { APPLICATION_NAME, OwnConnection, tcpDriver, withApplicationName, type PgClientClass } from '../src/own-connection.ts'

describe('the application_name of the router’s own connections', () => {
  it('is prisma-replica-router, after the application’s own name when it has one', () => {
    expect(withApplicationName({ host: 'db' })).toEqual({ host: 'db', application_name: APPLICATION_NAME })
    expect(withApplicationName({ host: 'db', application_name: 'checkout' })).toEqual({ host: 'db', application_name: 'checkout (prisma-replica-router)' })
    expect(withApplicationName({ connectionString: 'postgresql://u:p@db:5432/app' })).toEqual({
      connectionString: 'postgresql://u:p@db:5432/app',
      application_name: APPLICATION_NAME,
    })
  })

  it('replaces a name given in the connection string (which would win over the setting)', () => {
    const { connectionString } = withApplicationName({ connectionString: 'postgresql://u:p%40ss@db:5432/app?application_name=checkout&sslmode=require' })
    const url = new URL(connectionString as string)
    expect(url.searchParams.get('application_name')).toBe('checkout (prisma-replica-router)')
    expect(url.searchParams.get('sslmode')).toBe('require')
    expect(url.password).toBe('p%40ss')
  })
})

describe('OwnConnection', () => {
  it('sends one query at a time on its connection (node-postgres deprecates queueing on a busy client)', async () => {
    let active = 0
    let most = 0
    const answered: string[] = []
    class FakeClient {
      connect() {
        return Promise.resolve()
      }
      async query(sql: string) {
        active += 1
        most = Math.max(most, active)
        await new Promise((resolve) => setTimeout(resolve, 5))
        active -= 1
        answered.push(sql)
        return { rows: [{ sql }] }
      }
      end() {
        return Promise.resolve()
      }
      on() {
        return this
      }
    }
    const link = new OwnConnection({ host: 'db' }, 10_000, () => Promise.resolve(tcpDriver(FakeClient as unknown as PgClientClass)))
    const rows = await Promise.all(['SELECT 1', 'SELECT 2', 'SELECT 3'].map((sql) => link.query(sql, false)))
    await link.close()
    expect(rows).toEqual([[{ sql: 'SELECT 1' }], [{ sql: 'SELECT 2' }], [{ sql: 'SELECT 3' }]])
    expect(answered).toEqual(['SELECT 1', 'SELECT 2', 'SELECT 3'])
    expect(most).toBe(1)
  })
})
