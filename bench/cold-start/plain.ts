/** The cold-start baseline: a plain PrismaClient on the primary (bench/cold-start.ts). */
import { newClient, primaryUrl, serve } from './handler.ts'

const prisma = newClient(primaryUrl)
await serve(prisma, performance.now(), (fn) => fn())
