import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

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
          globalSetup: ['test/support/global-setup.ts'],
          // One cluster is shared and faults are injected into it: test files run one at a time.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
