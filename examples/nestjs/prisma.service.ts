/**
 * The routed Prisma client as a NestJS provider: the primary's client extended with `readReplicas()`, connected
 * when the module starts and disconnected when the application shuts down (`app.enableShutdownHooks()`).
 */
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../../generated/prisma/client.ts'
import { readReplicas, type ReadReplicasOptions } from 'prisma-replica-router'

/** Where the servers are, and any other router options (`onRoute` to watch decisions, `health`, …). */
export interface DatabaseOptions {
  /** The primary's URL (migrations and writes). */
  readonly primaryUrl: string
  /** One URL per read replica. */
  readonly replicaUrls: readonly string[]
  /** Router options other than `replicas`. */
  readonly router?: Omit<ReadReplicasOptions, 'replicas'>
}

/** Injection token of the {@link DatabaseOptions}. */
export const DATABASE_OPTIONS = Symbol('DATABASE_OPTIONS')

const client = (connectionString: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString }) })

function routed(options: DatabaseOptions) {
  return client(options.primaryUrl).$extends(
    readReplicas({
      ...options.router,
      replicas: options.replicaUrls.map((url, i) => ({ client: client(url), name: `replica-${String(i + 1)}` })),
    }),
  )
}

/** The routed client's type: models, `$primary()`, `$replica()`, `$consistencyToken()`, … */
export type RoutedClient = ReturnType<typeof routed>

@Injectable()
export class PrismaService implements OnModuleDestroy {
  /** Reads go to replicas (read-your-writes within each request's scope), writes to the primary. */
  readonly db: RoutedClient

  // An explicit token: no reliance on emitted decorator metadata (esbuild, tsx and Vitest do not emit it).
  constructor(@Inject(DATABASE_OPTIONS) options: DatabaseOptions) {
    this.db = routed(options)
  }

  async onModuleDestroy(): Promise<void> {
    await this.db.$disconnect()
  }
}
