import { defineConfig } from 'prisma/config'

/**
 * Migrations run against the PRIMARY only: `DATABASE_URL` must be the primary's URL.
 * Replica URLs (`REPLICA_URLS`) are never read here, so `prisma migrate deploy` cannot target a replica.
 * `prisma generate` needs no database: with DATABASE_URL unset (a CI build) the URL is empty and generate works,
 * while `check-primary` and `prisma migrate deploy` say that it is unset. (`env('DATABASE_URL')` would make
 * generate fail there; a placeholder URL would be tried for real.)
 */
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url: process.env.DATABASE_URL ?? '',
  },
})
