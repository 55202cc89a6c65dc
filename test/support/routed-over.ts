import { readReplicas, type RouteEvent } from '../../src/index.ts'
import { newClient, topology } from './db.ts'

type Client = ReturnType<typeof newClient>

/**
 * The router applied over `extend(base)` on the test topology (no stickiness), recording its routing events in
 * `events`; every client made is added to `clients`, for the test file to disconnect. `replicas`: other replica
 * clients than the topology's.
 */
export function routedOver(clients: { $disconnect(): Promise<void> }[], events: RouteEvent[], extend: (c: Client) => Client, replicas?: Client[]) {
  const base = newClient(topology.primaryUrl)
  const replicaClients = replicas ?? topology.replicas.map((r) => newClient(r.url))
  const client = extend(base).$extends(readReplicas({ replicas: replicaClients, sticky: false, onRoute: (e) => events.push(e) }))
  clients.push(base, ...replicaClients)
  return client
}
