import { PrismaClient } from '../../generated/prisma/client.ts'
import { topology } from './db.ts'
import { withAppName } from './server-activity.ts'

type Adapter = NonNullable<ConstructorParameters<typeof PrismaClient>[0]['adapter']>

/**
 * Clients of the test topology (the primary and each replica, by name) that record what the application's side
 * sees: every SQL statement of their query log and every operation a query extension on them is called for. How a
 * test proves the router's own queries invisible. `adapter` builds each client's driver adapter from its URL
 * (with `application_name` = `app`).
 */
export function loggedClients(app: string, adapter: (connectionString: string) => Adapter) {
  const names = ['primary', ...topology.replicas.map((r) => r.name)]
  const sql = Object.fromEntries(names.map((n) => [n, [] as string[]]))
  const operations = Object.fromEntries(names.map((n) => [n, [] as string[]]))
  const logged = (name: string, url: string) => {
    const client = new PrismaClient({ adapter: adapter(withAppName(url, app)), log: [{ emit: 'event', level: 'query' }] })
    client.$on('query', (e) => sql[name]?.push(e.query))
    return client.$extends({
      query: {
        $allOperations({ model, operation, args, query }) {
          operations[name]?.push(`${model ?? ''}.${operation}`)
          return query(args)
        },
      },
    })
  }
  return { names, sql, operations, logged }
}
