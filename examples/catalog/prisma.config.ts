import { defineConfig } from 'prisma/config'

/**
 * Prisma config of the catalog example. Paths are relative to this file.
 * Migrations run against the PRIMARY only: `DATABASE_URL` must be the primary's URL.
 * Replica URLs are never read here, so `prisma migrate deploy` cannot target a replica.
 * `prisma generate` needs no database, so a placeholder is used when DATABASE_URL is unset.
 */
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/unset-DATABASE_URL',
  },
})
