import pg from 'pg'
import { topology } from './db.ts'

/** The primary and each replica of the test topology, by name. */
export const servers = [{ name: 'primary', url: topology.primaryUrl }, ...topology.replicas.map((r) => ({ name: r.name, url: r.url }))]

/** `url` with `application_name` set: how a test tells its connections (and its router's) apart on the servers. */
export function withAppName(url: string, name: string): string {
  const parsed = new URL(url)
  parsed.searchParams.set('application_name', name)
  return parsed.toString()
}

/**
 * What the servers themselves see, through one observer connection per server (application_name
 * `test-observer`, never counted): connections by application name, and executions of a statement.
 */
export class ServerActivity {
  private readonly clients = new Map<string, pg.Client>()

  private async client(name: string): Promise<pg.Client> {
    let client = this.clients.get(name)
    if (!client) {
      const server = servers.find((s) => s.name === name)
      if (!server) throw new TypeError(`no server ${name}`)
      const observer = new pg.Client({ connectionString: withAppName(server.url, 'test-observer') })
      client = observer
      // A server stopped by a test ends its connection: forget it, the next call connects again.
      observer.on('error', () => this.clients.delete(name))
      observer.on('end', () => this.clients.get(name) === observer && this.clients.delete(name))
      this.clients.set(name, client)
      await client.connect()
    }
    return client
  }

  /** Connections on each server whose application_name starts with `prefix`, by server name. */
  async connections(prefix: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {}
    for (const { name } of servers) {
      const client = await this.client(name)
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE starts_with(application_name, $1) AND backend_type = 'client backend'",
        [prefix],
      )
      counts[name] = rows[0]?.n ?? 0
    }
    return counts
  }

  /** The client ports of the connections on every server whose application_name starts with `prefix`. */
  async clientPorts(prefix: string): Promise<number[]> {
    const ports: number[] = []
    for (const { name } of servers) {
      const client = await this.client(name)
      const { rows } = await client.query<{ port: number }>(
        "SELECT client_port AS port FROM pg_stat_activity WHERE starts_with(application_name, $1) AND backend_type = 'client backend'",
        [prefix],
      )
      ports.push(...rows.map((r) => r.port))
    }
    return ports
  }

  /** Total of {@link connections} over every server. */
  async totalConnections(prefix: string): Promise<number> {
    return Object.values(await this.connections(prefix)).reduce((a, b) => a + b, 0)
  }

  /**
   * Samples every server every few ms until `stop()`, recording each execution (backend, start time) of a
   * statement containing `marker`: how many times the servers ran it, wherever it was sent.
   */
  executions(marker: string): { stop(): Promise<Record<string, number>> } {
    const seen = new Map<string, Set<string>>(servers.map((s) => [s.name, new Set<string>()]))
    const state = { running: true }
    const loop = (async () => {
      while (state.running) {
        for (const { name } of servers) {
          const client = await this.client(name)
          const { rows } = await client.query<{ pid: number; started: string }>(
            "SELECT pid, query_start::text AS started FROM pg_stat_activity WHERE state = 'active' AND strpos(query, $1) > 0 AND pid <> pg_backend_pid()",
            [marker],
          )
          const set = seen.get(name) ?? new Set<string>()
          seen.set(name, set)
          for (const row of rows) set.add(`${String(row.pid)}@${row.started}`)
        }
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()
    return {
      stop: async () => {
        state.running = false
        await loop
        return Object.fromEntries([...seen].map(([name, set]) => [name, set.size]))
      },
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.end()))
    this.clients.clear()
  }
}
