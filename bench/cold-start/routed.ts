/** The cold start measured: the same client with readReplicas over two replicas, the handler in a scope (bench/cold-start.ts). */
import { readReplicas, runInScope } from 'prisma-replica-router'
import { newClient, primaryUrl, replicaUrls, serve } from './handler.ts'

const prisma = newClient(primaryUrl).$extends(readReplicas({ replicas: replicaUrls.map(newClient) }))
await serve(prisma, performance.now(), runInScope)
