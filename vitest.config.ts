import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

/** The db tests the `db-neon` project runs again with Neon's serverless driver. */
const NEON_FILES = [
  'test/read-replicas.db.test.ts',
  'test/read-your-writes.lsn.db.test.ts',
  'test/read-replicas.failover.db.test.ts',
  'test/session-guarantees.db.test.ts',
  'test/neon-driver.db.test.ts',
  'test/recovery-conflicts.db.test.ts',
]

export default defineConfig({
  // The examples import the package by name, as an application does; the tests run them on the sources.
  resolve: {
    alias: [
      { find: /^prisma-replica-router\/testing$/, replacement: src('testing/index.ts') },
      { find: /^prisma-replica-router$/, replacement: src('index.ts') },
    ],
  },
  test: {
    // Verbose: every test by name, and the reason of every skip (e.g. no local cluster to inject faults into).
    reporters: ['verbose'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.db.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'db',
          // Real PostgreSQL: a primary + 2 streaming replicas started by test/support/global-setup.ts.
          include: ['test/**/*.db.test.ts'],
          exclude: ['test/neon-driver.db.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          // One cluster is shared and faults are injected into it: test files run one at a time.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'db-neon',
          // The core routing, read-your-writes, failover and session-checker tests again, every client built with
          // @prisma/adapter-neon (Neon's serverless driver over WebSockets) through the test kit's proxy.
          include: NEON_FILES,
          // The session checker: a short seeded run (the db project's is 8 s).
          env: { TEST_DRIVER: 'neon', CHECKER_SECONDS: '3' },
          globalSetup: ['test/support/global-setup.ts'],
          fileParallelism: false,
          // After the db project: one cluster at a time is busy.
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
