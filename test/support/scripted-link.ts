import type { Row, ServerLink } from '../../src/server-link.ts'

/**
 * A {@link ServerLink} whose replay checks answer what the test scripts: `next` is the answer to the next query
 * (a row, or an error to fail it). Counts the queries sent. Pure logic only: the same checks against real
 * servers are in test/read-your-writes.lsn.db.test.ts.
 */
export function scriptedLink(first: { lsn: string; server: string } | Error) {
  const link = {
    next: first,
    queries: 0,
    own: true,
    open: true,
    query(): Promise<readonly Row[]> {
      link.queries += 1
      const answer = link.next
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve([{ lsn: answer.lsn, received: answer.lsn, server: answer.server }])
    },
    reconnect: () => undefined,
    reset: () => undefined,
    release: () => undefined,
    close: () => Promise.resolve(),
  } satisfies ServerLink & { next: unknown; queries: number }
  return link
}
