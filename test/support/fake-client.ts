/**
 * A structural stand-in for a PrismaClient, for the tests of pure logic (option parsing, the router's state, the
 * health monitor's transitions): they only look at the shape of a client, and never send a query through it.
 * Routing, consistency and failover are proven on the real cluster (test/support/db.ts).
 */
export function fakeClient() {
  return {
    $connect: async () => {},
    $disconnect: async () => {},
    $extends: () => ({}),
    $queryRawUnsafe: () => Promise.resolve([]),
  }
}
