import { describe, expect, it } from 'vitest'
import { APPLICATION_NAME, withApplicationName } from '../src/own-connection.ts'

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
